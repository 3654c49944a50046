package e2e

import (
	"database/sql"
	"net"
	"strings"
	"testing"
	"time"
)

// TestServeRunsJanitor: two servers with a short maintenance.interval; a
// session that ended long ago disappears with its tokens, a live one stays,
// and the servers log what they did.
func TestServeRunsJanitor(t *testing.T) {
	e := newEnv(t)
	e.vars["IDP_MAINTENANCE_INTERVAL"] = "1s"
	e.mustRun("", "migrate", "up")
	e.createUser("ann@example.com")
	a, b := e.serve(nil), e.serve(nil)
	live, code := login(t, a.URL, "ann@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login = %d", code)
	}
	old, code := login(t, b.URL, "ann@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login = %d", code)
	}
	db, err := sql.Open("postgres", e.vars["IDP_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var oldID string
	if err := db.QueryRow(`SELECT s.id FROM sessions s JOIN refresh_tokens rt ON rt.session_id = s.id
		WHERE rt.token_hash = sha256(convert_to($1, 'UTF8'))`, old.RefreshToken).Scan(&oldID); err != nil {
		t.Fatalf("find the session of a refresh token: %v", err)
	}
	if _, err := db.Exec(`UPDATE sessions SET expires_at = now() - interval '31 days' WHERE id = $1`, oldID); err != nil {
		t.Fatal(err)
	}
	// Generous: the janitor runs every second, but under a loaded CI
	// machine a run (and the partition work of the first) takes longer.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sessions WHERE id = $1`, oldID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the janitor did not delete a session that ended 31 days ago\n%s\n%s", a.stderr.String(), b.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	var tokens int
	if err := db.QueryRow(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, oldID).Scan(&tokens); err != nil || tokens != 0 {
		t.Fatalf("%d refresh tokens of the deleted session left (%v)", tokens, err)
	}
	if resp := call(t, "POST", a.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": live.RefreshToken}, nil); resp.StatusCode != 200 {
		t.Fatalf("refresh of the live session = %d", resp.StatusCode)
	}
	logs := a.stderr.String() + b.stderr.String()
	if !strings.Contains(logs, `"msg":"maintenance done"`) || !strings.Contains(logs, `"deleted_sessions":1`) {
		t.Fatalf("no maintenance log line counting the deleted session:\n%s", logs)
	}
}

// TestServeExitsWhenAddressTaken: a listen failure ends `idp serve` with
// an error at once; the background workers (janitor, mail outbox) must not
// keep it waiting.
func TestServeExitsWhenAddressTaken(t *testing.T) {
	wantListenFailure(t, "http.addr", func(taken string) map[string]string {
		return map[string]string{"IDP_HTTP_ADDR": taken}
	})
}

// wantListenFailure runs idp serve with one address (named key) taken by
// another listener and wants it to exit at once with an error naming key.
func wantListenFailure(t *testing.T, key string, vars func(taken string) map[string]string) {
	t.Helper()
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	var errs string
	var code int
	go func() {
		defer close(done)
		_, errs, code = e.runWith(vars(l.Addr().String()), "", "serve")
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("idp serve still running 15 s after failing to listen on %s", key)
	}
	if code == 0 || !strings.Contains(errs, "listen on "+key) {
		t.Fatalf("exit %d: %s; want a failure naming %s", code, errs, key)
	}
}
