package e2e

import (
	"testing"
	"time"
)

// Three servers on one PostgreSQL and Redis behave as one.
func TestSeveralInstancesShareEverything(t *testing.T) {
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	e.createUser("multi@example.com")
	e.createUser("target@example.com")
	extra := map[string]string{"IDP_LOCKOUT_MAX_ATTEMPTS": "3"}
	a, b, c := e.serve(extra), e.serve(extra), e.serve(extra)

	// Login on A, refresh on B, /me on C.
	tok, code := login(t, a.URL, "multi@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login on A = %d", code)
	}
	var next tokens
	if resp := call(t, "POST", b.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, &next); resp.StatusCode != 200 {
		t.Fatalf("refresh on B = %d", resp.StatusCode)
	}
	if resp := call(t, "GET", c.URL+"/api/v1/auth/me", next.AccessToken, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/me on C = %d", resp.StatusCode)
	}

	// The lockout counter is shared: attempts spread over A, B, C lock the account.
	for i, s := range []*server{a, b, c} {
		if _, code := login(t, s.URL, "target@example.com", "wrong wrong wrong"); code != 400 {
			t.Fatalf("wrong attempt %d = %d", i+1, code)
		}
	}
	for _, s := range []*server{a, b, c} {
		if _, code := login(t, s.URL, "target@example.com", userPassword); code != 429 {
			t.Fatalf("right password after 3 failures over 3 servers = %d, want 429", code)
		}
	}

	// A key rotation is seen by all three within 5 s.
	e.mustRun("", "keys", "rotate")
	var list struct {
		Keys []struct {
			KID   string `json:"kid"`
			Alg   string `json:"alg"`
			State string `json:"state"`
		} `json:"keys"`
	}
	listOut := e.mustRun("", "keys", "list", "--output", "json")
	if err := jsonUnmarshal(listOut, &list); err != nil {
		t.Fatal(err)
	}
	active := ""
	for _, k := range list.Keys {
		// Access tokens are signed by the active EdDSA key (RS256 keys sign
		// ID tokens only).
		if k.State == "active" && k.Alg == "EdDSA" {
			active = k.KID
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, s := range []*server{a, b, c} {
		for {
			tok, code := login(t, s.URL, "multi@example.com", userPassword)
			if code == 200 && tok.KID == active {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still signs with %s, not %s, 5 s after rotation", s.URL, tok.KID, active)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Logout on A makes the refresh fail on C.
	tok, _ = login(t, a.URL, "multi@example.com", userPassword)
	if resp := call(t, "POST", a.URL+"/api/v1/auth/logout", "", map[string]string{"refresh_token": tok.RefreshToken}, nil); resp.StatusCode != 204 {
		t.Fatalf("logout on A = %d", resp.StatusCode)
	}
	if resp := call(t, "POST", c.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, nil); resp.StatusCode != 400 {
		t.Fatalf("refresh on C after logout on A = %d, want 400", resp.StatusCode)
	}
}
