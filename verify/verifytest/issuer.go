// Package verifytest runs a local token issuer for the unit tests of
// services that use package verify: an httptest server with the discovery
// document and JWKS idp serves (same caching headers), tokens signed the way
// idp signs them, key rotation, an outage switch, and a corpus of forged
// tokens every verifier must refuse.
//
//	iss := verifytest.NewIssuer()
//	defer iss.Close()
//	v, err := verify.New(ctx, iss.URL, iss.Audience)
//	tok, err := iss.Token(verify.Claims{Subject: "u1", Roles: []string{"admin"}})
package verifytest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
	"github.com/idp-dev/idp/verify"
)

// Issuer is a local idp: discovery at /.well-known/openid-configuration,
// the JWKS at /.well-known/jwks.json. Its methods are safe for concurrent
// use.
type Issuer struct {
	// URL is the issuer identifier (the iss claim) and base URL.
	URL string
	// Audience is the aud claim of minted tokens ("idp", as idp's default).
	Audience string

	srv *httptest.Server

	mu          sync.Mutex
	active      token.Key
	next        token.Key
	retired     []token.Key
	maxAge      time.Duration
	unavailable bool
	now         func() time.Time
	jwks        []byte
	etag        string
	stats       Stats
}

// Stats counts the requests the issuer answered.
type Stats struct {
	Discovery   int // discovery documents served
	JWKS        int // JWKS requests, NotModified included
	NotModified int // JWKS requests answered 304
	Failed      int // requests refused while unavailable
}

// NewIssuer starts an issuer with an active and a next key. Like
// httptest.NewServer it panics if it cannot start. Close stops it.
func NewIssuer() *Issuer {
	iss := &Issuer{Audience: "idp", maxAge: 5 * time.Minute, now: time.Now}
	iss.active, iss.next = mustKey(), mustKey()
	iss.render()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.serveDiscovery)
	mux.HandleFunc("GET /.well-known/jwks.json", iss.serveJWKS)
	iss.srv = httptest.NewServer(mux)
	iss.URL = iss.srv.URL
	return iss
}

func mustKey() token.Key {
	k, err := token.GenerateKey()
	if err != nil {
		panic("verifytest: " + err.Error())
	}
	return k
}

// Close stops the server.
func (i *Issuer) Close() { i.srv.Close() }

// SetClock makes the issuer mint tokens at now() instead of the wall clock,
// to go with a verifier on a fake clock.
func (i *Issuer) SetClock(now func() time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.now = now
}

// SetMaxAge sets the Cache-Control max-age of discovery and JWKS (5 min,
// idp's default, unless changed).
func (i *Issuer) SetMaxAge(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.maxAge = d
}

// SetUnavailable makes discovery and JWKS answer 503 (true) or work again.
func (i *Issuer) SetUnavailable(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.unavailable = down
}

// Stats returns the request counts so far.
func (i *Issuer) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.stats
}

// ActiveKID is the kid new tokens are signed with.
func (i *Issuer) ActiveKID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.active.ID
}

// Rotate is `idp keys rotate`: the next key (already published) starts
// signing, a new next key is published, and the old active key stays
// published so its tokens keep verifying.
func (i *Issuer) Rotate() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.retired = append(i.retired, i.active)
	i.active, i.next = i.next, mustKey()
	i.render()
}

// RotateEmergency is `idp keys rotate --emergency`: like Rotate, but the old
// active key leaves the JWKS at once.
func (i *Issuer) RotateEmergency() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.active, i.next = i.next, mustKey()
	i.render()
}

// idTokenKey stands for the RS256 keys idp publishes for ID tokens: package
// verify must skip it. One per process, since RSA keys are slow to make.
var idTokenKey = sync.OnceValue(func() *rsa.PublicKey {
	k, err := token.GenerateRSAKey()
	if err != nil {
		panic("verifytest: " + err.Error())
	}
	return &k.Private.PublicKey
})

// render must run with mu held. The order is idp's: the EdDSA keys (active,
// next, retired), then an RS256 key, which signs ID tokens only.
func (i *Issuer) render() {
	pubs := []crypto.PublicKey{i.active.Public, i.next.Public}
	for _, k := range i.retired {
		pubs = append(pubs, k.Public)
	}
	pubs = append(pubs, idTokenKey())
	body, err := token.RenderJWKS(pubs)
	if err != nil {
		panic("verifytest: " + err.Error())
	}
	sum := sha256.Sum256(body)
	i.jwks, i.etag = body, `"`+hex.EncodeToString(sum[:8])+`"`
}

// Token mints an access token as idp does, signed with the active key.
// Empty fields get defaults: random UUIDs for Subject, TenantID and
// SessionID, IssuedAt now, ExpiresAt 15 minutes after IssuedAt.
func (i *Issuer) Token(c verify.Claims) (string, error) {
	i.mu.Lock()
	key, now := i.active, i.now()
	i.mu.Unlock()
	return i.sign(key, c, now)
}

func (i *Issuer) sign(key token.Key, c verify.Claims, now time.Time) (string, error) {
	tc := token.Claims{
		Issuer: i.URL, Audience: i.Audience, ID: newUUID(),
		Subject: c.Subject, TenantID: c.TenantID, SessionID: c.SessionID, Email: c.Email,
		Roles: c.Roles, ClientID: c.ClientID, Scope: strings.Join(c.Scopes, " "),
		IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt, PasswordChange: c.PasswordChange,
	}
	for _, f := range []*string{&tc.Subject, &tc.TenantID, &tc.SessionID} {
		if *f == "" {
			*f = newUUID()
		}
	}
	if tc.IssuedAt.IsZero() {
		tc.IssuedAt = now
	}
	if tc.ExpiresAt.IsZero() {
		tc.ExpiresAt = tc.IssuedAt.Add(15 * time.Minute)
	}
	tok, err := token.Sign(key, tc)
	if err != nil {
		return "", fmt.Errorf("verifytest: %w", err)
	}
	return tok, nil
}

// Forgeries returns the forged-token corpus (see the package function)
// aimed at this issuer's active key, issuer and audience.
func (i *Issuer) Forgeries() ([]Forgery, error) {
	i.mu.Lock()
	key, now := i.active, i.now()
	i.mu.Unlock()
	return Forgeries(key.Private, i.URL, i.Audience, now)
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	body, _ := json.Marshal(map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              i.URL + "/.well-known/jwks.json",
		"token_endpoint":                        i.URL + "/api/v1/auth/token",
		"id_token_signing_alg_values_supported": []string{"EdDSA"},
	})
	i.mu.Lock()
	if i.unavailable {
		i.stats.Failed++
		i.mu.Unlock()
		http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	i.stats.Discovery++
	maxAge := i.maxAge
	i.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// serveJWKS answers as idp does: max-age, ETag, 304 on If-None-Match.
func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	if i.unavailable {
		i.stats.Failed++
		i.mu.Unlock()
		http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	i.stats.JWKS++
	body, etag, maxAge := i.jwks, i.etag, i.maxAge
	notModified := r.Header.Get("If-None-Match") == etag
	if notModified {
		i.stats.NotModified++
	}
	i.mu.Unlock()
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	h.Set("ETag", etag)
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// newUUID returns a random (version 4) UUID, as idp uses for sub, sid,
// tenant_id and jti.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
