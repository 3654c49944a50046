package server_test

// Contract tests of access token verification at the HTTP edge (SECURITY C,
// issue 3): forged, tampered and mis-claimed tokens all get 401
// invalid_token, never 500; and a second JOSE implementation verifies our
// real tokens from the published documents alone.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/idp-dev/idp/internal/core"
)

// TestContractForgedTokens sends every forgery of SECURITY 14-18 to /me.
func TestContractForgedTokens(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS

	real := loginOK(t, ts, "", testUser, testPassword)
	other := loginOK(t, ts, "", testAdmin, testPassword)
	kid, ourKey := signingKey(t, env, core.KeyActive)
	if kid != real.KID {
		t.Fatalf("active key %s, token signed by %s", kid, real.KID)
	}
	_, realClaims := jwtSegments(t, real.AccessToken)
	_, adminClaims := jwtSegments(t, other.AccessToken)

	// The JWKS entry of our key: HS256 forgeries use its bytes as the secret.
	jwksBody := do(t, ts, "GET", jwksURL, nil).Body
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwksBody, &set); err != nil {
		t.Fatal(err)
	}
	var jwk map[string]string
	for _, k := range set.Keys {
		if k["kid"] == kid {
			jwk = k
		}
	}
	if jwk == nil {
		t.Fatalf("kid %s not in JWKS %s", kid, jwksBody)
	}
	xBytes, err := base64.RawURLEncoding.DecodeString(jwk["x"])
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, _ := json.Marshal(jwk)

	hdr := func(mod map[string]any) map[string]any {
		h := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
		for k, v := range mod {
			if v == nil {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	claims := func(mod map[string]any) map[string]any {
		c := maps.Clone(realClaims)
		for k, v := range mod {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	hs256 := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil)
		}
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs256 := func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es256 := func(in []byte) []byte {
		sum := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, ecKey, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
	foreignPub, foreignKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreignJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64url(foreignPub), "kid": "attacker", "use": "sig", "alg": "EdDSA"}
	ours, foreign := edSigner(ourKey), edSigner(foreignKey)
	now := time.Now().Unix()
	parts := strings.Split(real.AccessToken, ".")

	// The control: a token minted here with our key and the real claims is
	// accepted, so every refusal below is down to the one thing changed.
	control := mint(t, hdr(nil), claims(nil), ours)
	wantStatus(t, me(t, ts, control), http.StatusOK)
	// So is one with fresh times.
	wantStatus(t, me(t, ts, mint(t, hdr(nil), claims(map[string]any{"iat": now, "nbf": now, "exp": now + 60}), ours)), http.StatusOK)

	cases := map[string]string{
		// Algorithms (SECURITY 14).
		"alg none":              mint(t, hdr(map[string]any{"alg": "none"}), claims(nil), nil),
		"alg None":              mint(t, hdr(map[string]any{"alg": "None"}), claims(nil), nil),
		"alg NONE":              mint(t, hdr(map[string]any{"alg": "NONE"}), claims(nil), nil),
		"alg nOnE":              mint(t, hdr(map[string]any{"alg": "nOnE"}), claims(nil), nil),
		"alg none, real sig":    mint(t, hdr(map[string]any{"alg": "none"}), claims(nil), ours),
		"alg missing":           mint(t, hdr(map[string]any{"alg": nil}), claims(nil), ours),
		"alg eddsa lower":       mint(t, hdr(map[string]any{"alg": "eddsa"}), claims(nil), ours),
		"alg Ed25519":           mint(t, hdr(map[string]any{"alg": "Ed25519"}), claims(nil), ours),
		"HS256 raw public key":  mint(t, hdr(map[string]any{"alg": "HS256"}), claims(nil), hs256(xBytes)),
		"HS256 x string":        mint(t, hdr(map[string]any{"alg": "HS256"}), claims(nil), hs256([]byte(jwk["x"]))),
		"HS256 JWK JSON":        mint(t, hdr(map[string]any{"alg": "HS256"}), claims(nil), hs256(jwkJSON)),
		"HS256 whole JWKS":      mint(t, hdr(map[string]any{"alg": "HS256"}), claims(nil), hs256(jwksBody)),
		"HS512 raw public key":  mint(t, hdr(map[string]any{"alg": "HS512"}), claims(nil), hs256(xBytes)),
		"RS256":                 mint(t, hdr(map[string]any{"alg": "RS256"}), claims(nil), rs256),
		"ES256":                 mint(t, hdr(map[string]any{"alg": "ES256"}), claims(nil), es256),
		"foreign Ed25519":       mint(t, hdr(nil), claims(nil), foreign),
		"empty signature":       parts[0] + "." + parts[1] + ".",
		"no signature segment":  parts[0] + "." + parts[1],
		"signature of another":  parts[0] + "." + parts[1] + "." + strings.Split(other.AccessToken, ".")[2],
		"signature bit flipped": parts[0] + "." + parts[1] + "." + flipLast(parts[2]),
		"four segments":         real.AccessToken + ".e30",

		// Tampering (SECURITY 17): edit a claim, keep the signature.
		"tampered roles":  parts[0] + "." + jsonSeg(t, claims(map[string]any{"roles": []string{"admin"}})) + "." + parts[2],
		"tampered sub":    parts[0] + "." + jsonSeg(t, claims(map[string]any{"sub": adminClaims["sub"]})) + "." + parts[2],
		"tampered exp":    parts[0] + "." + jsonSeg(t, claims(map[string]any{"exp": now + 86400*365})) + "." + parts[2],
		"tampered header": jsonSeg(t, hdr(map[string]any{"typ": "AT+JWT"})) + "." + parts[1] + "." + parts[2],

		// Claims (SECURITY 16), signed with our real key.
		"wrong iss":              mint(t, hdr(nil), claims(map[string]any{"iss": "https://evil.example"}), ours),
		"iss trailing slash":     mint(t, hdr(nil), claims(map[string]any{"iss": ts.URL + "/"}), ours),
		"missing iss":            mint(t, hdr(nil), claims(map[string]any{"iss": nil}), ours),
		"missing aud":            mint(t, hdr(nil), claims(map[string]any{"aud": nil}), ours),
		"wrong aud":              mint(t, hdr(nil), claims(map[string]any{"aud": "other-service"}), ours),
		"aud array without ours": mint(t, hdr(nil), claims(map[string]any{"aud": []string{"a", "b"}}), ours),
		"empty aud":              mint(t, hdr(nil), claims(map[string]any{"aud": ""}), ours),
		"missing exp":            mint(t, hdr(nil), claims(map[string]any{"exp": nil}), ours),
		"past exp":               mint(t, hdr(nil), claims(map[string]any{"iat": now - 3600, "nbf": now - 3600, "exp": now - 120}), ours),
		"exp as string":          mint(t, hdr(nil), claims(map[string]any{"exp": fmt.Sprint(now + 600)}), ours),
		"future nbf":             mint(t, hdr(nil), claims(map[string]any{"nbf": now + 300}), ours),
		"future iat":             mint(t, hdr(nil), claims(map[string]any{"iat": now + 300, "nbf": now}), ours),
		"missing iat":            mint(t, hdr(nil), claims(map[string]any{"iat": nil}), ours),
		"missing sub":            mint(t, hdr(nil), claims(map[string]any{"sub": nil}), ours),
		"missing sid":            mint(t, hdr(nil), claims(map[string]any{"sid": nil}), ours),
		"unknown sid":            mint(t, hdr(nil), claims(map[string]any{"sid": "00000000-0000-4000-8000-000000000000"}), ours),
		"sid not a uuid":         mint(t, hdr(nil), claims(map[string]any{"sid": "' OR 1=1--"}), ours),
		"sub of another user":    mint(t, hdr(nil), claims(map[string]any{"sub": adminClaims["sub"]}), ours),
		"sid of another user":    mint(t, hdr(nil), claims(map[string]any{"sid": adminClaims["sid"]}), ours),
		"wrong typ JWT":          mint(t, hdr(map[string]any{"typ": "JWT"}), claims(nil), ours),
		"missing typ":            mint(t, hdr(map[string]any{"typ": nil}), claims(nil), ours),
		"typ of an id token":     mint(t, hdr(map[string]any{"typ": "id_token+jwt"}), claims(nil), ours),
		"crit header":            mint(t, hdr(map[string]any{"crit": []string{"exp"}}), claims(nil), ours),

		// Key selection (SECURITY 15).
		"missing kid":         mint(t, hdr(map[string]any{"kid": nil}), claims(nil), ours),
		"unknown kid":         mint(t, hdr(map[string]any{"kid": "ZmFrZS1raWQtdGhhdC1pcy1ub3Qtb3Vycw"}), claims(nil), ours),
		"10 KB kid":           mint(t, hdr(map[string]any{"kid": strings.Repeat("k", 10<<10)}), claims(nil), ours),
		"path kid":            mint(t, hdr(map[string]any{"kid": "../../../../etc/passwd"}), claims(nil), ours),
		"sql kid":             mint(t, hdr(map[string]any{"kid": "' OR 1=1--"}), claims(nil), ours),
		"kid is a number":     mint(t, hdr(map[string]any{"kid": 1}), claims(nil), ours),
		"jwk header":          mint(t, hdr(map[string]any{"kid": "attacker", "jwk": foreignJWK}), claims(nil), foreign),
		"jwk header, our kid": mint(t, hdr(map[string]any{"jwk": foreignJWK}), claims(nil), foreign),
		"jku header":          mint(t, hdr(map[string]any{"kid": "attacker", "jku": "https://evil.example/jwks.json"}), claims(nil), foreign),
		"jku header, our kid": mint(t, hdr(map[string]any{"jku": "https://evil.example/jwks.json"}), claims(nil), foreign),
		"x5u header":          mint(t, hdr(map[string]any{"kid": "attacker", "x5u": "https://evil.example/cert.pem"}), claims(nil), foreign),

		// Other tokens of ours (SECURITY 16).
		"refresh token": real.RefreshToken,
		"reset token":   resetToken(t, env, testUser),

		// Garbage.
		"48 KiB bearer":    strings.Repeat("a", 48<<10), // over the verifier's 8 KiB, under the 64 KiB header limit
		"48 KiB JWS":       parts[0] + "." + strings.Repeat("A", 48<<10) + "." + parts[2],
		"dots only":        "..",
		"not base64":       "e30.e30.!!!",
		"header not JSON":  b64url([]byte("not json")) + "." + parts[1] + "." + parts[2],
		"payload an array": parts[0] + "." + b64url([]byte("[]")) + "." + parts[2],
	}
	// The reset token above is still live, the refresh token too: the
	// refusals are about their kind, not their state.
	// Two bodies only: a header that is not a bearer token at all, and a
	// token that is not valid; neither says what exactly was wrong.
	plain := map[string]bool{
		string(me(t, ts, "x").Body):               true,
		string(do(t, ts, "GET", meURL, nil).Body): true,
	}
	if len(plain) != 2 {
		t.Fatalf("refusal bodies %v", plain)
	}
	names := slices.Sorted(maps.Keys(cases))
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := me(t, ts, cases[name])
			wantInvalidToken(t, r)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			if !plain[string(r.Body)] {
				t.Errorf("body %s is not one of the plain refusals %v", r.Body, plain)
			}
		})
	}
	// Past the 64 KiB header limit the answer is a quick 431, before any
	// handler (SECURITY 18).
	for _, tok := range []string{strings.Repeat("a", 1<<20), parts[0] + "." + strings.Repeat("A", 1<<20) + "." + parts[2]} {
		start := time.Now()
		if r := me(t, ts, tok); r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("1 MB bearer = %d, want 431", r.StatusCode)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("1 MB bearer took %s", d)
		}
	}
	// Same for the other bearer endpoints.
	for _, name := range []string{"alg none", "HS256 raw public key", "foreign Ed25519", "refresh token"} {
		r := do(t, ts, "POST", changeURL, map[string]string{"current_password": testPassword, "new_password": "never applied passphrase"}, "Authorization", bearer(cases[name]))
		wantInvalidToken(t, r)
		r = do(t, ts, "POST", registerURL, map[string]string{"email": "forged@example.com"}, "Authorization", bearer(cases[name]))
		wantInvalidToken(t, r)
		r = do(t, ts, "POST", logoutURL, map[string]any{"all": true}, "Authorization", bearer(cases[name]))
		wantInvalidToken(t, r)
	}
	// Nothing above did anything: the real session is intact, no user was
	// registered and no 500 was logged.
	wantAlive(t, ts, real)
	if n := sqlInt(t, env, `SELECT count(*) FROM users WHERE email = 'forged@example.com'`); n != 0 {
		t.Fatal("a forged token registered a user")
	}
	if strings.Contains(env.Logs.String(), `"status":500`) {
		t.Fatal("a forged token caused a 500")
	}
}

func flipLast(seg string) string {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil || len(b) == 0 {
		return seg + "A"
	}
	b[len(b)-1] ^= 1
	return b64url(b)
}

// resetToken starts a password reset for email and returns the token from
// the mailed link.
func resetToken(t testing.TB, env *testEnv, email string) string {
	t.Helper()
	wantStatus(t, do(t, env.TS, "POST", initiateURL, map[string]string{"email": email}), http.StatusAccepted)
	m, ok := env.Mail.Last(email, core.MailPasswordReset)
	if !ok {
		t.Fatalf("no reset mail to %s", email)
	}
	u, err := url.Parse(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		t.Fatalf("reset link %q has no token", m.URL)
	}
	return tok
}

// TestContractAccessTokenExpiry: a real token dies at exp plus at most 60 s
// of leeway, without sleeping (core's clock moves instead).
func TestContractAccessTokenExpiry(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	tr := loginOK(t, env.TS, "", testUser, testPassword)
	env.Clock.Advance(testAccessTTL - time.Minute)
	wantStatus(t, me(t, env.TS, tr.AccessToken), http.StatusOK)
	env.Clock.Advance(time.Minute + 61*time.Second)
	wantInvalidToken(t, me(t, env.TS, tr.AccessToken))
	// The session itself lives on: a refresh gets a working token.
	r := refresh(t, env.TS, tr.RefreshToken)
	wantStatus(t, r, http.StatusOK)
	wantStatus(t, me(t, env.TS, decodeTokens(t, r).AccessToken), http.StatusOK)
}

// TestContractClaimsMatchDatabase: sub, tenant_id, sid, email and roles are
// the database's at issue time; a role change shows at the next refresh.
func TestContractClaimsMatchDatabase(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS

	tr := loginOK(t, ts, "", testUser, testPassword)
	check := func(tr core.TokenResponse, roles []string) {
		t.Helper()
		_, c := jwtSegments(t, tr.AccessToken)
		var id, tenantID string
		if err := env.DB.QueryRow(`SELECT id::text, tenant_id::text FROM users WHERE email = $1`, testUser).Scan(&id, &tenantID); err != nil {
			t.Fatal(err)
		}
		if c["sub"] != id || c["tenant_id"] != tenantID || c["email"] != testUser {
			t.Errorf("claims %v, user %s tenant %s", c, id, tenantID)
		}
		if n := sqlInt(t, env, `SELECT count(*) FROM sessions WHERE id = $1::uuid AND user_id = $2::uuid AND revoked_at IS NULL`, c["sid"], id); n != 1 {
			t.Errorf("sid %v is not a live session of the user", c["sid"])
		}
		got, _ := json.Marshal(c["roles"])
		want, _ := json.Marshal(roles)
		if string(got) != string(want) {
			t.Errorf("roles claim %s, want %s", got, want)
		}
		m := me(t, ts, tr.AccessToken).JSON(t)
		got, _ = json.Marshal(m["roles"])
		if string(got) != string(want) {
			t.Errorf("/me roles %s, want %s", got, want)
		}
		// exp - iat is the access TTL, and iat, nbf are now.
		iat, exp := c["iat"].(float64), c["exp"].(float64)
		if time.Duration(exp-iat)*time.Second != testAccessTTL || c["nbf"] != c["iat"] {
			t.Errorf("iat %v nbf %v exp %v", c["iat"], c["nbf"], c["exp"])
		}
		if d := time.Since(time.Unix(int64(iat), 0)); d < -2*time.Second || d > 10*time.Second {
			t.Errorf("iat is %s from now", d)
		}
	}
	check(tr, []string{})

	sqlExec(t, env, `UPDATE users SET roles = '{auditor,support}' WHERE email = $1`, testUser)
	r := refresh(t, ts, tr.RefreshToken)
	wantStatus(t, r, http.StatusOK)
	tr2 := decodeTokens(t, r)
	check(tr2, []string{"auditor", "support"})
	// Claims of a new token are new; the old token's are what they were.
	if _, c := jwtSegments(t, tr.AccessToken); len(c["roles"].([]any)) != 0 {
		t.Errorf("old token roles %v", c["roles"])
	}

	sqlExec(t, env, `UPDATE users SET roles = '{}' WHERE email = $1`, testUser)
	r = refresh(t, ts, tr2.RefreshToken)
	wantStatus(t, r, http.StatusOK)
	check(decodeTokens(t, r), []string{})

	// An admin role granted in the database reaches register at once via
	// the next token; taken away, it is gone at once too (register re-reads
	// the user).
	admin := loginOK(t, ts, "", testAdmin, testPassword)
	sqlExec(t, env, `UPDATE users SET roles = '{}' WHERE email = $1`, testAdmin)
	r = do(t, ts, "POST", registerURL, map[string]string{"email": "late@example.com"}, "Authorization", bearer(admin.AccessToken))
	wantError(t, r, http.StatusForbidden, "forbidden")
}

// joseVerify checks raw the way an independent relying party would, with
// go-jose and nothing but our discovery document and the JWKS it points at.
func joseVerify(t testing.TB, env *testEnv, raw string) (josejwt.Claims, error) {
	t.Helper()
	ts := env.TS
	var disco struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(do(t, ts, "GET", discoURL, nil).Body, &disco); err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Get(disco.JWKSURI)
	if err != nil {
		t.Fatalf("GET %s: %v", disco.JWKSURI, err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v", err)
	}

	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return josejwt.Claims{}, err
	}
	if len(tok.Headers) != 1 {
		return josejwt.Claims{}, fmt.Errorf("%d signatures", len(tok.Headers))
	}
	h := tok.Headers[0]
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		return josejwt.Claims{}, fmt.Errorf("typ %v", typ)
	}
	if h.Algorithm != string(jose.EdDSA) {
		return josejwt.Claims{}, fmt.Errorf("alg %s", h.Algorithm)
	}
	keys := set.Key(h.KeyID)
	if h.KeyID == "" || len(keys) != 1 {
		return josejwt.Claims{}, fmt.Errorf("kid %q matches %d keys of the JWKS", h.KeyID, len(keys))
	}
	var std josejwt.Claims
	var extra struct {
		SessionID string   `json:"sid"`
		TenantID  string   `json:"tenant_id"`
		Roles     []string `json:"roles"`
		Email     string   `json:"email"`
	}
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		return std, err
	}
	if std.Expiry == nil || std.IssuedAt == nil || std.Subject == "" || std.ID == "" ||
		extra.SessionID == "" || extra.TenantID == "" || extra.Roles == nil || extra.Email == "" {
		return std, fmt.Errorf("claims incomplete: %+v %+v", std, extra)
	}
	return std, std.ValidateWithLeeway(josejwt.Expected{
		Issuer:      disco.Issuer,
		AnyAudience: josejwt.Audience{testAudience},
		Time:        time.Now(),
	}, 0)
}

// TestContractJOSEInterop: go-jose v4 verifies a real access token from the
// JWKS and discovery bytes alone, and refuses tampered ones.
func TestContractJOSEInterop(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS
	tr := loginOK(t, ts, "", testUser, testPassword)

	std, err := joseVerify(t, env, tr.AccessToken)
	if err != nil {
		t.Fatalf("go-jose rejects our access token: %v", err)
	}
	if std.Issuer != ts.URL || std.Expiry.Time().Sub(std.IssuedAt.Time()) != testAccessTTL {
		t.Errorf("claims %+v", std)
	}

	// The JWKS is exactly CONTRACT 4.2 and 7: OKP/Ed25519 public keys, then
	// the RSA keys of RS256 ID tokens, nothing more.
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	r := do(t, ts, "GET", jwksURL, nil)
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 4 {
		t.Errorf("JWKS has %d keys, want active and next of EdDSA and RS256", len(raw.Keys))
	}
	for i, k := range raw.Keys {
		if i >= 2 {
			if n, _ := k["n"].(string); len(k) != 6 || k["kty"] != "RSA" || k["e"] != "AQAB" || len(n) != 512 || k["use"] != "sig" || k["alg"] != "RS256" {
				t.Errorf("JWK %v", k)
			}
		} else if len(k) != 6 || k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["use"] != "sig" || k["alg"] != "EdDSA" {
			t.Errorf("JWK %v", k)
		}
		if x, _ := k["x"].(string); i < 2 && len(x) != 43 {
			t.Errorf("x %q is not 43 characters", x)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWK has a private part %q", private)
			}
		}
	}

	// Tampering is caught by the second implementation too.
	parts := strings.Split(tr.AccessToken, ".")
	_, c := jwtSegments(t, tr.AccessToken)
	c["roles"] = []string{"admin"}
	if _, err := joseVerify(t, env, parts[0]+"."+jsonSeg(t, c)+"."+parts[2]); err == nil {
		t.Error("go-jose accepts a tampered token")
	}
	_, foreignKey, _ := ed25519.GenerateKey(rand.Reader)
	h, _ := jwtSegments(t, tr.AccessToken)
	if _, err := joseVerify(t, env, mint(t, h, c, edSigner(foreignKey))); err == nil {
		t.Error("go-jose accepts a token signed by a foreign key")
	}
}
