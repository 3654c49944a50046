package verifytest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/idp-dev/idp/internal/core/token"
)

// Forgery is a token no verifier of idp access tokens may accept.
type Forgery struct {
	Name  string // what is wrong with it
	Token string
	// Reason is the fixed reason idp's own verifier gives for refusing it;
	// errors of package verify end with the same text.
	Reason string
}

// Forgeries builds the corpus of SECURITY C14-C18 against the issuer whose
// signing key is key: other algorithms (none in any case, HS256 keyed with
// the public key, RS256, PS256, ES256), foreign Ed25519 keys, broken or
// borrowed signatures, key-location headers (jku, x5u, jwk, x5c) pointing at
// an attacker's key, hostile kids (unknown, oversized, path or SQL
// characters), wrong or missing iss, aud, exp, typ and required claims,
// times in the future beyond 60 s of leeway, refresh (opaque) tokens and
// garbage. Every token is otherwise valid at now: iat = nbf = now, exp 15
// minutes later. idp's own tests and package verify's run this one corpus.
func Forgeries(key ed25519.PrivateKey, issuer, audience string, now time.Time) ([]Forgery, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("verifytest: forgeries: key is not an Ed25519 private key")
	}
	pub := key.Public().(ed25519.PublicKey)
	f := &forger{key: key, kid: token.KeyID(pub), iss: issuer, aud: audience, now: now}
	list := f.build(pub)
	if f.err != nil {
		return nil, f.err
	}
	return list, nil
}

// forger keeps the first error so the corpus reads as one table.
type forger struct {
	key           ed25519.PrivateKey
	kid, iss, aud string
	now           time.Time
	err           error
}

func (f *forger) fail(err error) {
	if f.err == nil && err != nil {
		f.err = err
	}
}

func (f *forger) header() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": f.kid}
}

func (f *forger) payload() map[string]any {
	return map[string]any{
		"iss":       f.iss,
		"sub":       "00000000-0000-4000-8000-000000000001",
		"aud":       f.aud,
		"exp":       f.now.Add(15 * time.Minute).Unix(),
		"iat":       f.now.Unix(),
		"nbf":       f.now.Unix(),
		"jti":       "00000000-0000-4000-8000-000000000002",
		"sid":       "00000000-0000-4000-8000-000000000003",
		"tenant_id": "00000000-0000-4000-8000-000000000004",
		"roles":     []string{"admin"},
		"email":     "alice@example.com",
	}
}

func (f *forger) enc(v any) string {
	b, err := json.Marshal(v)
	f.fail(err)
	return b64(b)
}

// signed builds a compact JWS by hand, so header and payload can hold
// anything, signed with priv.
func (f *forger) signed(priv ed25519.PrivateKey, hdr, payload map[string]any) string {
	in := f.enc(hdr) + "." + f.enc(payload)
	return in + "." + b64(ed25519.Sign(priv, []byte(in)))
}

// with returns a copy of m with the given edits; a nil value deletes the key.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (f *forger) unb64(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	f.fail(err)
	return b
}

func split(tok string) [3]string {
	var p [3]string
	copy(p[:], strings.SplitN(tok, ".", 3))
	return p
}

// build is the corpus itself, one line per forgery.
func (f *forger) build(pub ed25519.PublicKey) []Forgery {
	valid := f.signed(f.key, f.header(), f.payload())
	vp := split(valid)
	op := split(f.signed(f.key, f.header(), with(f.payload(), "sub", "someone-else")))

	_, attacker, err := ed25519.GenerateKey(rand.Reader)
	f.fail(err)
	attackerPub := attacker.Public().(ed25519.PublicKey)
	attackerKID := token.KeyID(attackerPub)

	jwtLib := func(m jwt.SigningMethod, key any) string {
		tok := jwt.NewWithClaims(m, jwt.MapClaims(f.payload()))
		tok.Header["typ"] = "at+jwt"
		tok.Header["kid"] = f.kid
		s, err := tok.SignedString(key)
		f.fail(err)
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	f.fail(err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.fail(err)
	if f.err != nil {
		return nil
	}

	none := func(alg string) string { return f.enc(with(f.header(), "alg", alg)) + "." + f.enc(f.payload()) + "." }
	claim := func(kv ...any) string { return f.signed(f.key, f.header(), with(f.payload(), kv...)) }
	hdr := func(kv ...any) string { return f.signed(f.key, with(f.header(), kv...), f.payload()) }
	// Signed by the attacker, with header edits (our kid unless changed).
	atk := func(kv ...any) string { return f.signed(attacker, with(f.header(), kv...), f.payload()) }
	reHeader := func(kv ...any) string { return f.enc(with(f.header(), kv...)) + "." + vp[1] + "." + vp[2] }

	tampered := vp[0] + "." + b64([]byte(strings.Replace(string(f.unb64(vp[1])),
		`"sub":"00000000-0000-4000-8000-000000000001"`, `"sub":"00000000-0000-4000-8000-0000000000ff"`, 1))) + "." + vp[2]
	// The last character of an 86-char Ed25519 signature carries 2 data bits
	// and 4 padding bits; flipping a padding bit keeps the decoded signature.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	trailingBits := valid[:len(valid)-1] + string(alphabet[strings.IndexByte(alphabet, valid[len(valid)-1])^1])
	opaque, err := token.NewOpaque()
	f.fail(err)
	attackerJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(attackerPub), "kid": attackerKID}

	return []Forgery{
		{"alg none", none("none"), "alg not allowed"},
		{"alg None", none("None"), "unsupported alg"},
		{"alg NONE", none("NONE"), "unsupported alg"},
		{"alg missing", reHeader("alg", nil), "unsupported alg"},
		{"alg unknown", reHeader("alg", "FOO"), "unsupported alg"},
		{"alg RS256 over an EdDSA signature", reHeader("alg", "RS256"), "alg not allowed"},
		{"HS256 keyed with the public key", jwtLib(jwt.SigningMethodHS256, []byte(pub)), "alg not allowed"},
		{"HS256 keyed with the public key as base64url", jwtLib(jwt.SigningMethodHS256, []byte(b64(pub))), "alg not allowed"},
		{"RS256", jwtLib(jwt.SigningMethodRS256, rsaKey), "alg not allowed"},
		{"PS256", jwtLib(jwt.SigningMethodPS256, rsaKey), "alg not allowed"},
		{"ES256", jwtLib(jwt.SigningMethodES256, ecKey), "alg not allowed"},
		// Same kid as ours: a matching label must not fool the verifier.
		{"foreign Ed25519 key with our kid", atk(), "bad signature"},
		{"unknown kid", atk("kid", attackerKID), "unknown kid"},
		{"empty signature", vp[0] + "." + vp[1] + ".", "bad signature"},
		{"signature of another token", vp[0] + "." + vp[1] + "." + op[2], "bad signature"},
		{"truncated signature", vp[0] + "." + vp[1] + "." + b64(f.unb64(vp[2])[:63]), "bad signature"},
		{"overlong signature", vp[0] + "." + vp[1] + "." + b64(append(f.unb64(vp[2]), 0)), "bad signature"},
		{"tampered claim", tampered, "bad signature"},
		{"non-canonical signature encoding", trailingBits, "malformed"},
		{"newline in signature", valid[:len(valid)-10] + "\n" + valid[len(valid)-10:], "malformed"},
		{"padded segments", valid + "==", "malformed"},
		{"wrong iss", claim("iss", "https://evil.example.com"), "wrong issuer"},
		{"missing iss", claim("iss", nil), "missing required claim"},
		{"wrong aud", claim("aud", "https://other.example.com"), "wrong audience"},
		{"wrong aud array", claim("aud", []string{"a", "b"}), "wrong audience"},
		{"missing aud", claim("aud", nil), "missing required claim"},
		{"empty aud", claim("aud", ""), "missing required claim"},
		{"empty aud array", claim("aud", []string{}), "missing required claim"},
		{"aud not a string", claim("aud", 42), "malformed"},
		{"missing exp", claim("exp", nil), "missing required claim"},
		{"exp as string", claim("exp", "9999999999"), "malformed"},
		{"iat as string", claim("iat", "1750000000"), "malformed"},
		{"nbf as bool", claim("nbf", true), "malformed"},
		{"exp beyond year 9999", claim("exp", 1e300), "malformed"},
		{"exp negative", claim("exp", -1), "malformed"},
		{"exp exponent overflow", claim("exp", json.RawMessage("1e400")), "malformed"},
		{"exp in the past beyond leeway", claim("exp", f.now.Add(-61*time.Second).Unix()), "expired"},
		{"exp long past", claim("exp", f.now.Add(-time.Hour).Unix()), "expired"},
		{"nbf 2 minutes in the future", claim("nbf", f.now.Add(2*time.Minute).Unix()), "not yet valid"},
		{"iat 2 minutes in the future", claim("iat", f.now.Add(2*time.Minute).Unix()), "issued in the future"},
		{"missing iat", claim("iat", nil), "missing iat"},
		{"missing sub", claim("sub", nil), "missing sub"},
		{"empty sub", claim("sub", ""), "missing sub"},
		{"missing jti", claim("jti", nil), "missing jti"},
		{"missing sid", claim("sid", nil), "missing sid"},
		{"missing tenant_id", claim("tenant_id", nil), "missing tenant_id"},
		{"roles not an array", claim("roles", "admin"), "malformed"},
		{"sid not a string", claim("sid", 7), "malformed"},
		{"typ JWT", hdr("typ", "JWT"), "wrong typ"},
		{"typ missing", hdr("typ", nil), "wrong typ"},
		{"typ application/jwt", hdr("typ", "application/jwt"), "wrong typ"},
		{"typ with trailing space", hdr("typ", "at+jwt "), "wrong typ"},
		{"typ not a string", hdr("typ", 1), "wrong typ"},
		{"crit header", hdr("crit", []string{"exp"}), "unsupported crit header"},
		{"kid missing", hdr("kid", nil), "bad kid"},
		{"kid empty", hdr("kid", ""), "bad kid"},
		{"kid not a string", hdr("kid", 12345), "bad kid"},
		{"kid 200 bytes", hdr("kid", strings.Repeat("k", 200)), "bad kid"},
		{"kid 10 KB", hdr("kid", strings.Repeat("k", 10<<10)), "token too large"},
		{"kid path traversal", hdr("kid", "../../etc/passwd"), "bad kid"},
		{"kid SQL injection", hdr("kid", "' OR 1=1 --"), "bad kid"},
		{"kid NUL byte", hdr("kid", f.kid+"\x00"), "bad kid"},
		{"jku to attacker JWKS", atk("kid", attackerKID, "jku", "https://evil.example/jwks.json"), "unknown kid"},
		{"jku to attacker JWKS with our kid", atk("jku", "https://evil.example/jwks.json"), "bad signature"},
		{"x5u to attacker cert", atk("kid", attackerKID, "x5u", "https://evil.example/cert.pem"), "unknown kid"},
		{"x5u to attacker cert with our kid", atk("x5u", "https://evil.example/cert.pem"), "bad signature"},
		{"embedded attacker jwk without kid", atk("kid", nil, "jwk", attackerJWK), "bad kid"},
		{"embedded attacker jwk with attacker kid", atk("kid", attackerKID, "jwk", attackerJWK), "unknown kid"},
		{"embedded attacker jwk with our kid", atk("jwk", attackerJWK), "bad signature"},
		{"x5c with our kid", atk("x5c", []string{"MIIBfake"}), "bad signature"},
		{"1 MB string", strings.Repeat("A", 1<<20), "token too large"},
		{"1 MB dotted token", strings.Repeat("A", 1<<19) + "." + strings.Repeat("A", 1<<19) + ".A", "token too large"},
		{"refresh token (opaque)", opaque, "malformed"},
		{"empty", "", "malformed"},
		{"dots only", "..", "malformed"},
		{"four segments", valid + ".x", "malformed"},
		{"two segments", vp[0] + "." + vp[1], "malformed"},
		{"garbage", "not a token at all", "malformed"},
		{"garbage base64", "Zm9v.YmFy.YmF6", "malformed"},
		{"header not an object", f.enc([]int{1}) + "." + vp[1] + "." + vp[2], "malformed"},
		{"header null", f.enc(nil) + "." + vp[1] + "." + vp[2], "unsupported alg"},
		{"payload not an object", vp[0] + "." + f.enc("x") + "." + vp[2], "malformed"},
		{"non-ASCII", "ey\u00e9.\u2603.\xff", "malformed"},
	}
}
