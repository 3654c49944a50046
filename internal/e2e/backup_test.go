package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/idp-dev/idp/internal/testenv"
)

// TestBackupRestoreDrill is the drill of docs/operations.md ("Backups"): a
// pg_dump taken while refreshes run, restored into a fresh database, served
// by a new `idp serve` with the same pepper and encryption key and an empty
// Redis. Tokens issued before the dump verify, sessions refresh, a locked
// account stays locked; with another pepper no password works, and with
// another encryption key the server refuses to start.
func TestBackupRestoreDrill(t *testing.T) {
	e := newEnv(t)
	e.vars["IDP_LOCKOUT_MAX_ATTEMPTS"] = "3"
	e.mustRun("", "migrate", "up")
	e.createUser("ann@example.com")
	e.createUser("bob@example.com")
	e.createUser("storm@example.com")
	s := e.serve(nil)

	ann, code := login(t, s.URL, "ann@example.com", userPassword)
	if code != 200 {
		t.Fatalf("login = %d", code)
	}
	for i := 0; ; i++ {
		if _, code := login(t, s.URL, "bob@example.com", "wrong password, try again"); code == http.StatusTooManyRequests {
			break
		}
		if i > 10 {
			t.Fatal("bob never got locked")
		}
	}
	if _, code := login(t, s.URL, "bob@example.com", userPassword); code != http.StatusTooManyRequests {
		t.Fatalf("bob's right password while locked = %d, want 429", code)
	}

	// A refresh storm runs through the dump; each client keeps every token
	// it held, newest last.
	const clients = 4
	held := make([][]string, clients)
	for i := range held {
		tok, code := login(t, s.URL, "storm@example.com", userPassword)
		if code != 200 {
			t.Fatalf("storm login = %d", code)
		}
		held[i] = []string{tok.RefreshToken}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				sent := held[i][len(held[i])-1]
				mu.Unlock()
				var next tokens
				if code, err := postJSON(c, s.URL+"/api/v1/auth/refresh", map[string]string{"refresh_token": sent}, &next); err != nil || code != 200 {
					return
				}
				mu.Lock()
				held[i] = append(held[i], next.RefreshToken)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	dump := filepath.Join(t.TempDir(), "idp.dump")
	if out, err := exec.Command(testenv.PGTool(t, "pg_dump"), "--format=custom", "--file="+dump, e.vars["IDP_DATABASE_URL"]).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	for i, h := range held {
		if len(h) < 3 {
			t.Fatalf("storm client %d made only %d refreshes: the dump did not run beside refreshes", i, len(h)-1)
		}
	}

	restored := testenv.Postgres(t)
	if out, err := exec.Command(testenv.PGTool(t, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+restored, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	fresh := map[string]string{"IDP_DATABASE_URL": restored, "IDP_REDIS_URL": testenv.StartRedis(t).URL()}
	s2 := e.serve(fresh)

	if resp := call(t, "GET", s2.URL+"/api/v1/auth/me", ann.AccessToken, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/me with an access token issued before the dump = %d", resp.StatusCode)
	}
	var next tokens
	if resp := call(t, "POST", s2.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": ann.RefreshToken}, &next); resp.StatusCode != 200 {
		t.Fatalf("refresh of a session from before the dump = %d (%s)", resp.StatusCode, next.Error)
	}
	if resp := call(t, "GET", s2.URL+"/api/v1/auth/me", next.AccessToken, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/me with the token pair minted after the restore = %d", resp.StatusCode)
	}
	if _, code := login(t, s2.URL, "bob@example.com", userPassword); code != http.StatusTooManyRequests {
		t.Fatalf("bob's right password after the restore = %d, want 429: the lock must survive a restore with an empty Redis", code)
	}
	if _, code := login(t, s2.URL, "ann@example.com", userPassword); code != 200 {
		t.Fatalf("ann's login after the restore = %d", code)
	}
	// Each storm session is consistent in the dump: of the tokens its
	// client held, newest first, the first one the restored database knows
	// refreshes (the ones rotated after the snapshot are merely unknown).
	for i, h := range held {
		refreshed := false
		for j := len(h) - 1; j >= 0 && !refreshed; j-- {
			var out tokens
			resp := call(t, "POST", s2.URL+"/api/v1/auth/refresh", "", map[string]string{"refresh_token": h[j]}, &out)
			refreshed = resp.StatusCode == 200
		}
		if !refreshed {
			t.Fatalf("storm client %d: no token it held refreshes on the restored database", i)
		}
	}
	checkNoBranches(t, restored)

	// What losing each secret means (docs/operations.md): another pepper
	// turns every password into a wrong one; another encryption key can't
	// open the signing keys, and the server refuses to start.
	otherPepper := map[string]string{"IDP_DATABASE_URL": restored, "IDP_REDIS_URL": fresh["IDP_REDIS_URL"],
		"IDP_SECURITY_PEPPER": "another pepper that is at least 32 bytes long"}
	s3 := e.serve(otherPepper)
	if _, code := login(t, s3.URL, "ann@example.com", userPassword); code != http.StatusBadRequest {
		t.Fatalf("login with another pepper = %d, want 400", code)
	}
	otherKey := map[string]string{"IDP_DATABASE_URL": restored, "IDP_REDIS_URL": fresh["IDP_REDIS_URL"],
		"IDP_KEYS_ENCRYPTION_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"IDP_HTTP_ADDR":           fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	if _, errs, code := e.runWith(otherKey, "", "serve"); code == 0 || !strings.Contains(errs, "keys.encryption_key") {
		t.Fatalf("serve with another encryption key: exit %d: %s; want a refusal naming keys.encryption_key", code, errs)
	}
}

func checkNoBranches(t *testing.T, url string) {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var live int
	if err := db.QueryRow(`SELECT count(*) FROM (SELECT session_id FROM refresh_tokens WHERE spent_at IS NULL
		GROUP BY session_id HAVING count(*) > 1) l`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Fatalf("restored database: %d sessions with two live tokens", live)
	}
}
