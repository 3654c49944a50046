package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// A hung PostgreSQL (the postmaster and every backend stopped by SIGSTOP:
// connections stay open and nothing answers) gets 503
// temporarily_unavailable within the request timeout on every endpoint,
// /readyz turns 503 at once, and idp recovers without a restart when the
// server continues (SECURITY 38; docs/operations.md "Database timeouts").
func TestPostgresHung(t *testing.T) {
	pg := testenv.StartPostgres(t)
	e := newEnv(t)
	e.vars["IDP_DATABASE_URL"] = pg.URL()
	e.mustRun("", "migrate", "up")
	e.createUser("hung@example.com")
	s := e.serve(nil)
	tok, code := login(t, s.URL, "hung@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login = %d", code)
	}
	// Several pooled connections, all idle when the server stops.
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := timedCall(t, s.URL, "GET", "/api/v1/auth/me", tok.AccessToken, nil); r.status != 200 {
				t.Errorf("warm-up /me = %d", r.status)
			}
		}()
	}
	wg.Wait()

	pg.Freeze()
	const requestTimeout = 10 * time.Second // idp serve's
	if r := timedCall(t, s.URL, "GET", "/readyz", "", nil); r.status != 503 || r.took > 3*time.Second {
		t.Fatalf("/readyz with PostgreSQL stopped = %d after %v, want 503 within 3 s", r.status, r.took)
	}
	// Requests on pooled connections, at the same time, then again once
	// idp has seen the hang.
	requests := []struct{ method, path, bearer string }{
		{"POST", "/api/v1/auth/token", ""},
		{"GET", "/api/v1/auth/me", tok.AccessToken},
		{"POST", "/api/v1/auth/refresh", ""},
		{"POST", "/api/v1/auth/password/reset/initiate", ""},
	}
	bodies := map[string]any{
		"/api/v1/auth/token":                   map[string]string{"email": "hung@example.com", "password": userPassword},
		"/api/v1/auth/refresh":                 map[string]string{"refresh_token": tok.RefreshToken},
		"/api/v1/auth/password/reset/initiate": map[string]string{"email": "hung@example.com"},
	}
	for round := 1; round <= 2; round++ {
		for _, rq := range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := timedCall(t, s.URL, rq.method, rq.path, rq.bearer, bodies[rq.path])
				t.Logf("round %d: %s %s = %d %s after %v", round, rq.method, rq.path, r.status, r.body.Error, r.took.Round(time.Millisecond))
				if r.status != 503 || r.body.Error != "temporarily_unavailable" || r.retryAfter == "" || r.body.AccessToken != "" {
					t.Errorf("round %d: %s with PostgreSQL stopped = %d %+v (Retry-After %q), want 503 temporarily_unavailable",
						round, rq.path, r.status, r.body, r.retryAfter)
				}
				if r.took > requestTimeout {
					t.Errorf("round %d: %s took %v, longer than the request timeout", round, rq.path, r.took)
				}
			}()
		}
		wg.Wait()
	}
	if r := timedCall(t, s.URL, "GET", "/readyz", "", nil); r.status != 503 || r.took > 3*time.Second {
		t.Fatalf("/readyz again = %d after %v, want 503 within 3 s", r.status, r.took)
	}
	if r := timedCall(t, s.URL, "GET", "/healthz", "", nil); r.status != 200 || r.took > time.Second {
		t.Fatalf("/healthz with PostgreSQL stopped = %d after %v, want 200 at once", r.status, r.took)
	}
	if t.Failed() {
		t.FailNow()
	}

	pg.Thaw()
	deadline := time.Now().Add(10 * time.Second)
	for timedCall(t, s.URL, "GET", "/readyz", "", nil).status != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 10 s after PostgreSQL continued:\n%s", s.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	fresh, code := login(t, s.URL, "hung@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login after PostgreSQL continued = %d %s", code, fresh.Error)
	}
	if r := timedCall(t, s.URL, "GET", "/api/v1/auth/me", fresh.AccessToken, nil); r.status != 200 {
		t.Fatalf("/me after PostgreSQL continued = %d", r.status)
	}
}

type timedResult struct {
	status     int
	retryAfter string
	body       tokens
	took       time.Duration
}

// timedCall is call with a client timeout, so that a hung server fails
// the test instead of hanging it.
func timedCall(t *testing.T, base, method, path, bearer string, body any) timedResult {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v after %v", method, path, err, time.Since(start))
		return timedResult{took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := timedResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start)}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Errorf("%s %s: %v", method, path, fmt.Errorf("decode %q: %w", raw, err))
		}
	}
	return r
}
