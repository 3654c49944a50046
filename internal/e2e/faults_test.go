package e2e

import (
	"database/sql"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/idp-dev/idp/internal/testenv"
)

// PostgreSQL down: 503 within the request timeout, no token issued, and
// recovery without a restart of idp (SECURITY 38).
func TestPostgresOutage(t *testing.T) {
	pg := testenv.StartPostgres(t)
	e := newEnv(t)
	e.vars["IDP_DATABASE_URL"] = pg.URL()
	e.mustRun("", "migrate", "up")
	e.createUser("pg@example.com")
	s := e.serve(nil)
	tok, code := login(t, s.URL, "pg@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login = %d", code)
	}

	pg.Stop()
	start := time.Now()
	var body tokens
	resp := call(t, "POST", s.URL+"/api/v1/auth/token", "", map[string]string{"email": "pg@example.com", "password": userPassword}, &body)
	if resp.StatusCode != 503 || body.Error != "temporarily_unavailable" || body.AccessToken != "" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("login with Postgres down = %d %+v", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("login took %v with Postgres down (request timeout is 10s)", d)
	}
	for _, c := range []struct{ method, path, bearer string }{
		{"GET", "/api/v1/auth/me", tok.AccessToken},
		{"GET", "/readyz", ""},
	} {
		if resp := call(t, c.method, s.URL+c.path, c.bearer, nil, nil); resp.StatusCode != 503 {
			t.Fatalf("%s with Postgres down = %d, want 503", c.path, resp.StatusCode)
		}
	}
	if resp := call(t, "POST", s.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, nil); resp.StatusCode != 503 {
		t.Fatalf("refresh with Postgres down = %d, want 503", resp.StatusCode)
	}

	pg.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tok, code := login(t, s.URL, "pg@example.com", userPassword)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 15 s after Postgres came back: %d %s\n%s", code, tok.Error, s.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill -9 during a refresh storm: no family ends with two live branches,
// and a client still holding the token it sent gets its child pair after
// a restart, inside the grace window (SECURITY 39).
func TestKillDuringRefreshStorm(t *testing.T) {
	e := newEnv(t)
	e.vars["IDP_TOKENS_REFRESH_GRACE"] = "1m"
	e.mustRun("", "migrate", "up")
	e.createUser("storm@example.com")
	s := e.serve(nil)

	const clients = 8
	last := make([]string, clients) // the token each client sent most recently
	for i := range last {
		tok, code := login(t, s.URL, "storm@example.com", userPassword)
		if code != 200 {
			t.Fatalf("login = %d", code)
		}
		last[i] = tok.RefreshToken
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				sent := last[i]
				mu.Unlock()
				var next tokens
				resp, err := postJSON(client, s.URL+"/api/v1/auth/refresh", map[string]string{"refresh_token": sent}, &next)
				if err != nil {
					return // the server died under us; keep `sent` as the last token
				}
				if resp != 200 {
					return
				}
				mu.Lock()
				last[i] = next.RefreshToken
				mu.Unlock()
			}
		}(i)
	}
	time.Sleep(700 * time.Millisecond)
	s.signal(syscall.SIGKILL)
	s.wait(10 * time.Second)
	close(stop)
	wg.Wait()

	db, err := sql.Open("postgres", e.vars["IDP_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var branched, live int
	if err := db.QueryRow(`SELECT count(*) FROM (SELECT parent_id FROM refresh_tokens WHERE parent_id IS NOT NULL GROUP BY parent_id HAVING count(*) > 1) b`).Scan(&branched); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM (SELECT session_id FROM refresh_tokens WHERE spent_at IS NULL GROUP BY session_id HAVING count(*) > 1) l`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if branched != 0 || live != 0 {
		t.Fatalf("after kill -9: %d parents with two children, %d sessions with two live tokens", branched, live)
	}
	var rotations int
	if err := db.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE parent_id IS NOT NULL`).Scan(&rotations); err != nil {
		t.Fatal(err)
	}
	if rotations < clients {
		t.Fatalf("only %d rotations happened before the kill; the storm was too short to mean anything", rotations)
	}

	s2 := e.serve(nil)
	for i, sent := range last {
		var next tokens
		resp := call(t, "POST", s2.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": sent}, &next)
		if resp.StatusCode != 200 {
			t.Fatalf("client %d: refresh with the token it last sent = %d (%s) after restart", i, resp.StatusCode, next.Error)
		}
		if resp := call(t, "GET", s2.URL+"/api/v1/auth/me", next.AccessToken, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("client %d: /me with the recovered pair = %d", i, resp.StatusCode)
		}
	}
}
