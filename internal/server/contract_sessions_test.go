package server_test

// Contract tests of refresh rotation, reuse detection, logout and
// revocation (issue 4, SECURITY D) against real PostgreSQL and Redis.

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/token"
)

// sidOf is the session id an access token carries.
func sidOf(t testing.TB, access string) string {
	t.Helper()
	_, c := jwtSegments(t, access)
	sid, _ := c["sid"].(string)
	if sid == "" {
		t.Fatalf("no sid in %v", c)
	}
	return sid
}

// TestContractRefreshRotation: R0 -> R1 -> R2 -> R3; a replay inside the
// grace window gets the byte-identical answer; a replay after it revokes
// the whole family with one audit event.
func TestContractRefreshRotation(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil) // RefreshGrace 10s; core's clock jumps past it
	ts := env.TS

	r0 := loginOK(t, ts, "", testUser, testPassword)
	sid := sidOf(t, r0.AccessToken)
	chain := []core.TokenResponse{r0}
	var answers []response
	for i := 1; i <= 3; i++ {
		r := refresh(t, ts, chain[i-1].RefreshToken)
		tr := wantTokenResponse(t, r)
		if sidOf(t, tr.AccessToken) != sid {
			t.Fatalf("R%d changed the session", i)
		}
		for _, prev := range chain {
			if tr.RefreshToken == prev.RefreshToken || tr.AccessToken == prev.AccessToken {
				t.Fatalf("R%d repeats an earlier token", i)
			}
		}
		wantStatus(t, me(t, ts, tr.AccessToken), http.StatusOK)
		chain = append(chain, tr)
		answers = append(answers, r)
	}
	// Rotation never extends the absolute end (the idle end moves).
	var absolute, created time.Time
	if err := env.DB.QueryRow(`SELECT expires_at, created_at FROM sessions WHERE id = $1`, sid).Scan(&absolute, &created); err != nil {
		t.Fatal(err)
	}
	if d := absolute.Sub(created); d < 720*time.Hour-time.Second || d > 720*time.Hour+time.Second {
		t.Errorf("session lasts %s, want refresh_ttl 720h", d)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND expires_at > $2`, sid, absolute); n != 0 {
		t.Errorf("%d refresh tokens outlive the session's absolute end", n)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, sid); n != 4 {
		t.Errorf("%d refresh token rows in the family, want 4", n)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND spent_at IS NULL`, sid); n != 1 {
		t.Errorf("%d live tokens in the family, want 1", n)
	}

	// R2 again, inside the grace window: the same bytes as the first answer.
	again := refresh(t, ts, chain[2].RefreshToken)
	wantStatus(t, again, http.StatusOK)
	if string(again.Body) != string(answers[2].Body) {
		t.Errorf("replay inside the grace window:\n%s\nfirst answer:\n%s", again.Body, answers[2].Body)
	}
	if headerSet(again) != headerSet(answers[2]) {
		t.Errorf("replay headers\n%s\nfirst\n%s", headerSet(again), headerSet(answers[2]))
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, sid); n != 4 {
		t.Errorf("the replay made a new token row (%d rows)", n)
	}
	if n := auditCount(t, env, core.EventRefreshReuse, "*", ""); n != 0 {
		t.Errorf("a replay inside the window counted as reuse")
	}

	// R1 after the window: reuse. Everything in the family dies.
	env.Clock.Advance(11 * time.Second)
	r := refresh(t, ts, chain[1].RefreshToken)
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	wantNoStore(t, r)
	unknown := refresh(t, ts, "never-issued-token-never-issued-token-never")
	if string(r.Body) != string(unknown.Body) {
		t.Errorf("reuse body %s differs from an unknown token's %s", r.Body, unknown.Body)
	}
	for _, tr := range chain {
		wantError(t, refresh(t, ts, tr.RefreshToken), http.StatusBadRequest, "invalid_grant")
		wantInvalidToken(t, me(t, ts, tr.AccessToken))
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL`, sid); n != 0 {
		t.Errorf("the session is not revoked")
	}
	var reason string
	if err := env.DB.QueryRow(`SELECT revoked_reason FROM sessions WHERE id = $1`, sid).Scan(&reason); err != nil || reason != core.ReasonReuse {
		t.Errorf("revoked_reason %q (%v)", reason, err)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, sid); n != 4 {
		t.Errorf("a dead family grew: %d rows", n)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE event = $1 AND session_id = $2`, core.EventRefreshReuse, sid); n != 1 {
		t.Errorf("%d refresh_reuse_detected rows for the session, want 1", n)
	}
	if n := auditCount(t, env, core.EventRefreshReuse, "*", ""); n != 1 {
		t.Errorf("%d refresh_reuse_detected rows in all, want 1", n)
	}
	// A new login is a new, healthy family.
	wantAlive(t, ts, loginOK(t, ts, "", testUser, testPassword))
}

// TestContractConcurrentRefresh: 50 simultaneous refreshes of one token get
// one child pair, and the database holds exactly one child.
func TestContractConcurrentRefresh(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS
	tr := loginOK(t, ts, "", testUser, testPassword)

	const n = 50
	var mu sync.Mutex
	bodies := map[string]int{}
	statuses := map[int]int{}
	var transport []error
	parallel(n, func(int) {
		r, err := sendRaw(ts, postReq(ts, refreshURL, map[string]string{"refresh_token": tr.RefreshToken}))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			transport = append(transport, err)
			return
		}
		statuses[r.StatusCode]++
		bodies[string(r.Body)]++
	})
	if len(transport) > 0 {
		t.Fatalf("transport errors: %v", transport)
	}
	if statuses[http.StatusOK] != n {
		t.Errorf("statuses %v, want %d x 200", statuses, n)
	}
	if len(bodies) != 1 {
		t.Errorf("%d different answers, want one", len(bodies))
	}
	if c := sqlInt(t, env, `SELECT count(*) FROM refresh_tokens WHERE parent_id = (SELECT id FROM refresh_tokens WHERE token_hash = $1)`, token.HashOpaque(tr.RefreshToken)); c != 1 {
		t.Errorf("%d children of the token, want 1", c)
	}
	if c := auditCount(t, env, core.EventRefresh, "*", ""); c != 1 {
		t.Errorf("%d refresh audit rows, want 1", c)
	}
	for b := range bodies {
		child := decodeTokens(t, response{Body: []byte(b)})
		wantAlive(t, ts, child)
	}
}

// TestContractRefreshForms: the form grant, logout and logout-all.
func TestContractRefreshForms(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS
	form := func(v url.Values) response {
		return do(t, ts, "POST", tokenURL, v.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}

	t.Run("form grant_type=refresh_token", func(t *testing.T) {
		tr := loginOK(t, ts, "", testUser, testPassword)
		r := form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {"spa"}})
		child := wantTokenResponse(t, r)
		wantAlive(t, ts, child)
		// The spent token, form or JSON, is the same token.
		again := refresh(t, ts, tr.RefreshToken)
		if string(again.Body) != string(r.Body) {
			t.Errorf("JSON replay of a form refresh differs")
		}
		wantError(t, form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"bogus"}}), http.StatusBadRequest, "invalid_grant")
		wantError(t, form(url.Values{"grant_type": {"refresh_token"}}), http.StatusBadRequest, "invalid_request")
	})

	t.Run("refresh errors", func(t *testing.T) {
		wantError(t, do(t, ts, "POST", refreshURL, `{}`), http.StatusBadRequest, "invalid_request")
		wantError(t, do(t, ts, "POST", refreshURL, `{"refresh_token":1}`), http.StatusBadRequest, "invalid_request")
		wantError(t, refresh(t, ts, strings.Repeat("a", 600)), http.StatusBadRequest, "invalid_grant")
		wantError(t, refresh(t, ts, "' OR 1=1--"), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("logout", func(t *testing.T) {
		tr := loginOK(t, ts, "", testUser, testPassword)
		keep := loginOK(t, ts, "", testUser, testPassword)
		for range 2 {
			r := do(t, ts, "POST", logoutURL, map[string]string{"refresh_token": tr.RefreshToken})
			wantStatus(t, r, http.StatusNoContent)
			if len(r.Body) != 0 {
				t.Errorf("204 with body %q", r.Body)
			}
		}
		wantDead(t, ts, tr)
		wantAlive(t, ts, keep)
		wantStatus(t, do(t, ts, "POST", logoutURL, map[string]string{"refresh_token": "never-issued"}), http.StatusNoContent)
		wantError(t, do(t, ts, "POST", logoutURL, map[string]string{}), http.StatusBadRequest, "invalid_request")
		if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE event = $1 AND session_id = $2`, core.EventLogout, sidOf(t, tr.AccessToken)); n != 1 {
			t.Errorf("%d logout audit rows, want 1", n)
		}
	})

	t.Run("logout all", func(t *testing.T) {
		createUser(t, env, "", "many@example.com")
		a := loginOK(t, ts, "", "many@example.com", testPassword)
		b := loginOK(t, ts, "", "many@example.com", testPassword)
		bystander := loginOK(t, ts, "", testUser, testPassword)
		wantInvalidToken(t, do(t, ts, "POST", logoutURL, map[string]any{"all": true}))
		r := do(t, ts, "POST", logoutURL, map[string]any{"all": true}, "Authorization", bearer(a.AccessToken))
		wantStatus(t, r, http.StatusNoContent)
		wantDead(t, ts, a)
		wantDead(t, ts, b)
		wantAlive(t, ts, bystander)
	})
}

// TestContractRevocation: every change of a user's standing kills the
// affected sessions at once (refresh and /me), and only those.
func TestContractRevocation(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()

	type sessions struct {
		affected, bystanders []core.TokenResponse
	}
	cases := []struct {
		name string
		act  func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions
	}{
		{"Users.Disable", func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions {
			if _, err := env.Services.Users.Disable(ctx, tenant, "victim@example.com", cliMeta); err != nil {
				t.Fatal(err)
			}
			return sessions{affected: []core.TokenResponse{victim, sibling}}
		}},
		{"Sessions.RevokeUser", func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions {
			res, err := env.Services.Sessions.RevokeUser(ctx, tenant, "VICTIM@example.com ", cliMeta)
			if err != nil || res.Revoked != 2 {
				t.Fatalf("RevokeUser: %+v %v", res, err)
			}
			return sessions{affected: []core.TokenResponse{victim, sibling}}
		}},
		{"Sessions.RevokeSessionID", func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions {
			res, err := env.Services.Sessions.RevokeSessionID(ctx, sidOf(t, victim.AccessToken), cliMeta)
			if err != nil || res.Revoked != 1 {
				t.Fatalf("RevokeSessionID: %+v %v", res, err)
			}
			return sessions{affected: []core.TokenResponse{victim}, bystanders: []core.TokenResponse{sibling}}
		}},
		{"Sessions.RevokeTenant", func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions {
			res, err := env.Services.Sessions.RevokeTenant(ctx, tenant, cliMeta)
			if err != nil || res.Revoked != 3 {
				t.Fatalf("RevokeTenant: %+v %v", res, err)
			}
			return sessions{affected: []core.TokenResponse{victim, sibling}}
		}},
		{"Tenants.Disable", func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions {
			if _, err := env.Services.Tenants.Disable(ctx, tenant, cliMeta); err != nil {
				t.Fatal(err)
			}
			return sessions{affected: []core.TokenResponse{victim, sibling}}
		}},
		{"password change", func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions {
			r := do(t, ts, "POST", changeURL, map[string]string{"current_password": testPassword, "new_password": "a fresh passphrase for me"},
				"Authorization", bearer(victim.AccessToken))
			wantStatus(t, r, http.StatusNoContent)
			// The session that changed it lives on; the other one dies.
			return sessions{affected: []core.TokenResponse{sibling}, bystanders: []core.TokenResponse{victim}}
		}},
		{"password reset", func(t *testing.T, tenant string, victim, sibling core.TokenResponse) sessions {
			wantStatus(t, do(t, ts, "POST", initiateURL, map[string]string{"email": "victim@example.com", "tenant": tenant}), http.StatusAccepted)
			m, ok := env.Mail.Last("victim@example.com", core.MailPasswordReset)
			if !ok {
				t.Fatal("no reset mail")
			}
			u, _ := url.Parse(m.URL)
			r := do(t, ts, "POST", completeURL, map[string]string{"token": u.Query().Get("token"), "new_password": "a fresh passphrase for me"})
			wantStatus(t, r, http.StatusNoContent)
			return sessions{affected: []core.TokenResponse{victim, sibling}}
		}},
	}
	// One bystander in the default tenant, whose sessions must survive all.
	outsider := loginOK(t, ts, "", testUser, testPassword)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tenant := fmt.Sprintf("case-%d", i)
			createUser(t, env, tenant, "victim@example.com")
			createUser(t, env, tenant, "neighbour@example.com")
			victim := loginOK(t, ts, tenant, "victim@example.com", testPassword)
			sibling := loginOK(t, ts, tenant, "victim@example.com", testPassword)
			neighbour := loginOK(t, ts, tenant, "neighbour@example.com", testPassword)

			got := c.act(t, tenant, victim, sibling)
			for _, tr := range got.affected {
				wantDead(t, ts, tr)
			}
			for _, tr := range got.bystanders {
				wantAlive(t, ts, tr)
			}
			// The neighbour in the tenant survives unless the tenant was hit.
			if c.name == "Sessions.RevokeTenant" || c.name == "Tenants.Disable" {
				wantDead(t, ts, neighbour)
			} else {
				wantAlive(t, ts, neighbour)
			}
			outsider = wantAlive(t, ts, outsider)
		})
	}
}

// TestContractRefreshRacingDisable: no token pair obtained around a
// Users.Disable works once Disable has returned.
func TestContractRefreshRacingDisable(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()

	for round := range 3 {
		email := fmt.Sprintf("racer%d@example.com", round)
		createUser(t, env, "", email)
		const chains, maxLinks = 5, 8
		var (
			mu    sync.Mutex
			pairs []core.TokenResponse
			wg    sync.WaitGroup
		)
		stop, start := make(chan struct{}), make(chan struct{})
		for range chains {
			first := loginOK(t, ts, "", email, testPassword)
			pairs = append(pairs, first)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				cur := first
				for range maxLinks {
					select {
					case <-stop:
						return
					default:
					}
					r, err := sendRaw(ts, postReq(ts, refreshURL, map[string]string{"refresh_token": cur.RefreshToken}))
					if err != nil || r.StatusCode != http.StatusOK {
						return
					}
					var next core.TokenResponse
					if json.Unmarshal(r.Body, &next) != nil {
						return
					}
					mu.Lock()
					pairs = append(pairs, next)
					mu.Unlock()
					cur = next
				}
			}()
		}
		close(start)
		time.Sleep(time.Duration(5+round*10) * time.Millisecond)
		if _, err := env.Services.Users.Disable(ctx, "", email, cliMeta); err != nil {
			t.Fatal(err)
		}
		// From here on nothing may work, including pairs still arriving.
		close(stop)
		wg.Wait()
		if len(pairs) <= chains {
			t.Logf("round %d: no refresh finished before Disable", round)
		}
		for _, tr := range pairs {
			wantDead(t, ts, tr)
		}
		if n := sqlInt(t, env, `SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1 AND s.revoked_at IS NULL`, email); n != 0 {
			t.Errorf("round %d: %d live sessions after Disable", round, n)
		}
	}
}

// TestContractNoPlaintextSecrets: no refresh token, reset token or password
// appears in any column of any table, in plain, hex or base64 form.
func TestContractNoPlaintextSecrets(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts := env.TS

	secrets := []string{testPassword}
	tr := loginOK(t, ts, "", testUser, testPassword)
	secrets = append(secrets, tr.RefreshToken)
	for range 3 {
		r := refresh(t, ts, tr.RefreshToken)
		wantStatus(t, r, http.StatusOK)
		tr = decodeTokens(t, r)
		secrets = append(secrets, tr.RefreshToken)
	}
	admin := loginOK(t, ts, "", testAdmin, testPassword)
	secrets = append(secrets, admin.RefreshToken)
	// A used reset token, a voided one and a live one.
	used := resetToken(t, env, testAdmin)
	const newPassword = "a completely new passphrase"
	wantStatus(t, do(t, ts, "POST", completeURL, map[string]string{"token": used, "new_password": newPassword}), http.StatusNoContent)
	voided := resetToken(t, env, testUser)
	live := resetToken(t, env, testUser)
	secrets = append(secrets, used, voided, live, newPassword)
	// A pending user's invite token.
	if _, err := env.Services.Users.Create(context.Background(), core.CreateInput{Email: "invited@example.com"}, cliMeta); err != nil {
		t.Fatal(err)
	}
	m, ok := env.Mail.Last("invited@example.com", core.MailInvite)
	if !ok {
		t.Fatal("no invite mail")
	}
	u, _ := url.Parse(m.URL)
	secrets = append(secrets, u.Query().Get("token"))
	seed, err := env.Services.Users.Seed(context.Background(), core.SeedInput{Tenant: "seeded", Email: "root@example.com", Rotate: false}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, seed.Password)
	// Server-side secrets: the pepper, the key-encryption key and the
	// private signing keys.
	secrets = append(secrets, string(testPepper), string(testEncryptionKey))
	for _, state := range []core.KeyState{core.KeyActive, core.KeyNext} {
		_, priv := signingKey(t, env, state)
		secrets = append(secrets, string(priv.Seed()))
	}

	dump := strings.ToLower(dumpDatabase(t, env))
	if len(dump) < 1000 {
		t.Fatalf("dump is suspiciously small: %d bytes", len(dump))
	}
	for _, s := range secrets {
		for form, v := range secretForms(s) {
			if strings.Contains(dump, strings.ToLower(v)) {
				t.Errorf("the database holds a secret (%s form of %.8s...)", form, s)
			}
		}
	}
}

// secretForms are the spellings a secret could be stored under.
func secretForms(s string) map[string]string {
	forms := map[string]string{
		"plain":     s,
		"hex":       hex.EncodeToString([]byte(s)),
		"base64":    base64.StdEncoding.EncodeToString([]byte(s)),
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(s)),
	}
	// Opaque tokens are base64url of random bytes: those bytes too.
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && len(b) >= 16 {
		forms["decoded hex"] = hex.EncodeToString(b)
		forms["decoded base64"] = base64.StdEncoding.EncodeToString(b)
	}
	return forms
}

// dumpDatabase renders every row of every table of the public schema as
// JSON text.
func dumpDatabase(t testing.TB, env *testEnv) string {
	t.Helper()
	rows, err := env.DB.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 7 {
		t.Fatalf("only tables %v", tables)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := env.DB.Query(fmt.Sprintf(`SELECT row_to_json(t)::text FROM %q t`, table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line)
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String()
}

// TestContractSessionLifetimes: a session dies after refresh_idle_ttl
// without use and at refresh_ttl whatever the use; rotation never extends
// the absolute end. Core's clock moves instead of the test sleeping.
func TestContractSessionLifetimes(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil) // refresh_ttl 720h, idle 168h
	ts := env.TS

	idle := loginOK(t, ts, "", testUser, testPassword)
	active := loginOK(t, ts, "", testUser, testPassword)
	// Used every 100 h, the active session outlives the idle one...
	for range 7 {
		env.Clock.Advance(100 * time.Hour)
		r := refresh(t, ts, active.RefreshToken)
		wantStatus(t, r, http.StatusOK)
		active = decodeTokens(t, r)
		if active.RefreshExpiresIn > int64((720*time.Hour)/time.Second) {
			t.Fatalf("refresh_expires_in %d", active.RefreshExpiresIn)
		}
	}
	wantError(t, refresh(t, ts, idle.RefreshToken), http.StatusBadRequest, "invalid_grant")
	// ...but not its absolute end: 700 h have passed, 20 h are left.
	if active.RefreshExpiresIn > int64((20*time.Hour)/time.Second) {
		t.Errorf("refresh_expires_in %d s with 20 h of the session left", active.RefreshExpiresIn)
	}
	env.Clock.Advance(19 * time.Hour)
	r := refresh(t, ts, active.RefreshToken)
	wantStatus(t, r, http.StatusOK)
	active = decodeTokens(t, r)
	env.Clock.Advance(time.Hour + time.Minute)
	wantError(t, refresh(t, ts, active.RefreshToken), http.StatusBadRequest, "invalid_grant")
	wantInvalidToken(t, me(t, ts, active.AccessToken))
}
