package server_test

// Contract tests of issue 5: seeded admins, registration, password change
// and reset, key rotation, and the audit trail of a whole flow.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// TestContractSeededAdmin: the one-time password works once to get a
// token flagged password_change_required, that token is refused everywhere
// but /me and /password/change, the change makes the account normal, and
// an expired one-time password is invalid_grant.
func TestContractSeededAdmin(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()

	seed, err := env.Services.Users.Seed(ctx, core.SeedInput{Tenant: "acme", Email: "root@acme.example", Rotate: false}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	if seed.Tenant != "acme" || seed.Email != "root@acme.example" || len(seed.Password) < 12 {
		t.Fatalf("seed %+v", seed)
	}
	if d := time.Until(seed.ExpiresAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("seed expires in %s, want seed.password_ttl 24h", d)
	}
	r := loginAs(t, ts, "acme", seed.Email, seed.Password)
	tr := wantTokenResponse(t, r)
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(r.Body, &raw)
	if string(raw["password_change_required"]) != "true" {
		t.Fatalf("password_change_required = %s, want true: %s", raw["password_change_required"], r.Body)
	}
	auth := []string{"Authorization", bearer(tr.AccessToken)}

	r = do(t, ts, "POST", registerURL, map[string]string{"email": "staff@acme.example", "password": testPassword}, auth...)
	m := wantError(t, r, http.StatusForbidden, "forbidden")
	if d := m["error_description"].(string); !strings.Contains(d, "password must be changed") {
		t.Errorf("403 description %q does not say why", d)
	}
	if n := auditCount(t, env, core.EventRegister, "password_change_required", ""); n != 1 {
		t.Errorf("%d register denials audited, want 1", n)
	}
	wantStatus(t, do(t, ts, "GET", meURL, nil, auth...), http.StatusOK)

	// A weak new password is refused; the flag stays.
	r = do(t, ts, "POST", changeURL, map[string]string{"current_password": seed.Password, "new_password": "123qweasdzxc"}, auth...)
	wantError(t, r, http.StatusBadRequest, "weak_password")
	r = do(t, ts, "POST", changeURL, map[string]string{"current_password": seed.Password, "new_password": "my very own secret phrase"}, auth...)
	wantStatus(t, r, http.StatusNoContent)

	// Now normal: the same token may register, a new login is unflagged, the
	// one-time password is gone.
	r = do(t, ts, "POST", registerURL, map[string]string{"email": "staff@acme.example", "password": testPassword}, auth...)
	wantStatus(t, r, http.StatusCreated)
	r = loginAs(t, ts, "acme", seed.Email, "my very own secret phrase")
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.Body), "password_change_required") {
		t.Errorf("flag still set after the change: %s", r.Body)
	}
	wrong := loginAs(t, ts, "acme", seed.Email, "not the password at all")
	wantError(t, wrong, http.StatusBadRequest, "invalid_grant")
	r = loginAs(t, ts, "acme", seed.Email, seed.Password)
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	if n := sqlInt(t, env, `SELECT count(*) FROM users WHERE email = $1 AND (must_change_password OR password_expires_at IS NOT NULL)`, seed.Email); n != 0 {
		t.Errorf("one-time password flags left in the database")
	}

	// A second seed of the tenant is refused; --rotate issues a new one and
	// ends the admin's sessions.
	if _, err := env.Services.Users.Seed(ctx, core.SeedInput{Tenant: "acme", Email: "other@acme.example", Rotate: false}, cliMeta); core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("second seed: %v, want conflict", err)
	}
	live := loginOK(t, ts, "acme", seed.Email, "my very own secret phrase")
	rot, err := env.Services.Users.Seed(ctx, core.SeedInput{Tenant: "acme", Email: seed.Email, Rotate: true}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	wantDead(t, ts, live)
	if tr := loginOK(t, ts, "acme", seed.Email, rot.Password); !tr.PasswordChangeRequired {
		t.Errorf("rotated one-time password not flagged")
	}

	// An expired one-time password: invalid_grant, the same bytes as a wrong
	// password.
	late, err := env.Services.Users.Seed(ctx, core.SeedInput{Tenant: "late", Email: "root@late.example", Rotate: false}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(24*time.Hour + time.Minute)
	r = loginAs(t, ts, "late", late.Email, late.Password)
	wantError(t, r, http.StatusBadRequest, "invalid_grant")
	if string(r.Body) != string(wrong.Body) || headerSet(r) != headerSet(wrong) {
		t.Errorf("expired one-time password answers %s, a wrong password %s", r.Body, wrong.Body)
	}
	if n := auditCount(t, env, core.EventLoginFailure, core.ReasonPasswordExpire, late.Email); n != 1 {
		t.Errorf("%d password_expired rows, want 1", n)
	}
}

// TestContractRegister: role and tenant checks, each denial audited, and
// the created user shown exactly as /me shows it.
func TestContractRegister(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()
	if _, err := env.Services.Tenants.Create(ctx, "b", "Tenant B", cliMeta); err != nil {
		t.Fatal(err)
	}
	createUser(t, env, "b", "admin@b.example", core.RoleAdmin)
	admin := []string{"Authorization", bearer(loginOK(t, ts, "", testAdmin, testPassword).AccessToken)}
	user := []string{"Authorization", bearer(loginOK(t, ts, "", testUser, testPassword).AccessToken)}

	denials := []struct {
		name   string
		body   map[string]any
		auth   []string
		reason string
		desc   string
	}{
		{"other tenant", map[string]any{"email": "x@b.example", "password": testPassword, "tenant": "b"}, admin, "other_tenant", "own tenant"},
		{"not an admin", map[string]any{"email": "x@example.com", "password": testPassword}, user, "not_admin", "admin"},
		{"not an admin, other tenant", map[string]any{"email": "x@b.example", "password": testPassword, "tenant": "b"}, user, "not_admin", "admin"},
	}
	for _, d := range denials {
		t.Run(d.name, func(t *testing.T) {
			before := auditCount(t, env, core.EventRegister, d.reason, "")
			r := do(t, ts, "POST", registerURL, d.body, d.auth...)
			m := wantError(t, r, http.StatusForbidden, "forbidden")
			if !strings.Contains(m["error_description"].(string), d.desc) {
				t.Errorf("description %q does not mention %q", m["error_description"], d.desc)
			}
			if n := auditCount(t, env, core.EventRegister, d.reason, ""); n != before+1 {
				t.Errorf("denial not audited once (%d -> %d rows with reason %s)", before, n, d.reason)
			}
		})
	}
	// Roles come from the tenant's catalogue (issue 14: no longer "only
	// roles the caller holds"): another name is invalid_request naming it,
	// audited like the denials.
	for _, roles := range [][]string{{"superuser"}, {"admin", "auditor"}} {
		r := do(t, ts, "POST", registerURL, map[string]any{"email": "x@example.com", "password": testPassword, "roles": roles}, admin...)
		m := wantError(t, r, http.StatusBadRequest, "invalid_request")
		if missing := roles[len(roles)-1]; !strings.Contains(m["error_description"].(string), `"`+missing+`" is not in the role catalogue`) {
			t.Errorf("description %q does not name %s", m["error_description"], missing)
		}
	}
	if n := auditCount(t, env, core.EventRegister, "role_not_in_catalogue", ""); n != 2 {
		t.Errorf("%d role_not_in_catalogue rows, want 2", n)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM user_login_events WHERE event = 'register' AND outcome = 'failure'`); n != len(denials)+2 {
		t.Errorf("%d register failure rows, want %d", n, len(denials)+2)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM users WHERE email LIKE 'x@%'`); n != 0 {
		t.Fatalf("a denied registration created a user")
	}
	wantInvalidToken(t, do(t, ts, "POST", registerURL, map[string]any{"email": "x@example.com"}))

	t.Run("a catalogue role the admin doesn't hold", func(t *testing.T) {
		if _, err := env.Services.Roles.Create(ctx, core.Operator(testTenant), "member", "", cliMeta); err != nil {
			t.Fatal(err)
		}
		r := do(t, ts, "POST", registerURL, map[string]any{"email": "member@example.com", "roles": []string{"member"}}, admin...)
		wantStatus(t, r, http.StatusCreated)
		if m := r.JSON(t); fmt.Sprint(m["roles"]) != "[member]" {
			t.Errorf("roles %v", m["roles"])
		}
	})

	t.Run("success is the user as /me shows it", func(t *testing.T) {
		r := do(t, ts, "POST", registerURL, map[string]any{"email": "New.Hire@Example.com", "password": "a long enough passphrase",
			"roles": []string{"admin"}, "display_name": "New Hire", "tenant": testTenant}, admin...)
		wantStatus(t, r, http.StatusCreated)
		created := r.JSON(t)
		if created["email"] != "new.hire@example.com" || created["status"] != "active" || created["display_name"] != "New Hire" ||
			created["tenant"] != testTenant || created["last_login_at"] != nil {
			t.Errorf("created %s", r.Body)
		}
		tr := loginOK(t, ts, "", "new.hire@example.com", "a long enough passphrase")
		shown := me(t, ts, tr.AccessToken).JSON(t)
		if !slices.Equal(slices.Sorted(maps.Keys(created)), slices.Sorted(maps.Keys(shown))) {
			t.Errorf("/register keys %v, /me keys %v", slices.Sorted(maps.Keys(created)), slices.Sorted(maps.Keys(shown)))
		}
		for k, v := range created {
			if k == "last_login_at" {
				continue
			}
			if fmt.Sprint(v) != fmt.Sprint(shown[k]) {
				t.Errorf("%s: /register %v, /me %v", k, v, shown[k])
			}
		}
		if n := auditCount(t, env, core.EventRegister, "", "new.hire@example.com"); n != 1 {
			t.Errorf("%d register success rows, want 1", n)
		}
	})

	t.Run("conflicts and validation", func(t *testing.T) {
		body := map[string]any{"email": "NEW.HIRE@example.com", "password": "a long enough passphrase"}
		wantError(t, do(t, ts, "POST", registerURL, body, admin...), http.StatusConflict, "conflict")
		body = map[string]any{"email": "not an email", "password": "a long enough passphrase"}
		wantError(t, do(t, ts, "POST", registerURL, body, admin...), http.StatusBadRequest, "invalid_request")
		body = map[string]any{"email": "weak@example.com", "password": "short"}
		m := wantError(t, do(t, ts, "POST", registerURL, body, admin...), http.StatusBadRequest, "weak_password")
		if !strings.Contains(m["error_description"].(string), "12") {
			t.Errorf("weak_password description %q does not name the rule", m["error_description"])
		}
		body = map[string]any{"email": "jonathan@example.com", "password": "my name is jonathan, ok?"}
		wantError(t, do(t, ts, "POST", registerURL, body, admin...), http.StatusBadRequest, "weak_password")
		body = map[string]any{"email": "dup@example.com", "email2": "x", "EMAIL": "y"}
		wantError(t, do(t, ts, "POST", registerURL, body, admin...), http.StatusBadRequest, "invalid_request")
	})

	t.Run("without a password: pending, invited", func(t *testing.T) {
		r := do(t, ts, "POST", registerURL, map[string]any{"email": "invitee@example.com"}, admin...)
		wantStatus(t, r, http.StatusCreated)
		if m := r.JSON(t); m["status"] != "pending" {
			t.Errorf("status %v, want pending", m["status"])
		}
		mail, ok := env.Mail.Last("invitee@example.com", core.MailInvite)
		if !ok || !strings.HasPrefix(mail.URL, ts.URL+"/password/reset?token=") {
			t.Fatalf("invite mail %+v", mail)
		}
		u, _ := url.Parse(mail.URL)
		wantStatus(t, do(t, ts, "POST", completeURL, map[string]string{"token": u.Query().Get("token"), "new_password": "a welcome passphrase"}), http.StatusNoContent)
		loginOK(t, ts, "", "invitee@example.com", "a welcome passphrase")
	})
}

// TestContractPasswordReset: one body for every email, strict bodies,
// single use under concurrency, voiding, expiry, revocation, lock clearing
// and links built from the issuer only.
func TestContractPasswordReset(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()
	const newPassword = "a brand new passphrase"

	t.Run("one answer for every email", func(t *testing.T) {
		createUser(t, env, "", "gone@example.com")
		if _, err := env.Services.Users.Disable(ctx, "", "gone@example.com", cliMeta); err != nil {
			t.Fatal(err)
		}
		createUser(t, env, "shut", "member@example.com")
		if _, err := env.Services.Tenants.Disable(ctx, "shut", cliMeta); err != nil {
			t.Fatal(err)
		}
		var first response
		for i, body := range []map[string]string{
			{"email": testUser},
			{"email": "nobody@example.com"},
			{"email": "gone@example.com"},
			{"email": "member@example.com", "tenant": "shut"},
			{"email": testUser, "tenant": "no-such-tenant"},
		} {
			r := do(t, ts, "POST", initiateURL, body)
			wantStatus(t, r, http.StatusAccepted)
			if i == 0 {
				first = r
				continue
			}
			if string(r.Body) != string(first.Body) || headerSet(r) != headerSet(first) {
				t.Errorf("%v: %q\n%s\nwant %q\n%s", body, r.Body, headerSet(r), first.Body, headerSet(first))
			}
		}
		for _, to := range []string{"nobody@example.com", "gone@example.com", "member@example.com"} {
			if _, ok := env.Mail.Last(to, core.MailPasswordReset); ok {
				t.Errorf("a reset mail went to %s", to)
			}
		}
		if _, ok := env.Mail.Last(testUser, core.MailPasswordReset); !ok {
			t.Errorf("no reset mail to %s", testUser)
		}
		// Until completion the account is unchanged.
		loginOK(t, ts, "", testUser, testPassword)
	})

	t.Run("ambiguous bodies", func(t *testing.T) {
		for _, body := range []string{
			`[{"email":"` + testAdmin + `"}]`,
			`{"email":["` + testAdmin + `","attacker@example.com"]}`,
			`{"email":"` + testAdmin + `","email":"attacker@example.com"}`,
			`{"email":"` + testAdmin + `","EMAIL":"attacker@example.com"}`,
			`{"email":"` + testAdmin + `"} {"email":"attacker@example.com"}`,
			`{"email":{"address":"` + testAdmin + `"}}`,
			`{}`,
		} {
			wantError(t, do(t, ts, "POST", initiateURL, body), http.StatusBadRequest, "invalid_request")
		}
		if _, ok := env.Mail.Last("attacker@example.com", core.MailPasswordReset); ok {
			t.Fatal("a reset mail went to the attacker")
		}
		if _, ok := env.Mail.Last(testAdmin, core.MailPasswordReset); ok {
			t.Fatal("an ambiguous body started a reset")
		}
	})

	t.Run("20 concurrent completes", func(t *testing.T) {
		createUser(t, env, "", "racer@example.com")
		tok := resetToken(t, env, "racer@example.com")
		statuses := make([]int, 20)
		parallel(20, func(i int) {
			r, err := sendRaw(ts, postReq(ts, completeURL, map[string]string{"token": tok, "new_password": fmt.Sprintf("racing passphrase %02d", i)}))
			if err == nil {
				statuses[i] = r.StatusCode
			}
		})
		won := -1
		for i, s := range statuses {
			switch s {
			case http.StatusNoContent:
				if won >= 0 {
					t.Errorf("two completes succeeded")
				}
				won = i
			case http.StatusBadRequest:
			default:
				t.Errorf("complete %d: status %d", i, s)
			}
		}
		if won < 0 {
			t.Fatal("no complete succeeded")
		}
		loginOK(t, ts, "", "racer@example.com", fmt.Sprintf("racing passphrase %02d", won))
		if n := auditCount(t, env, core.EventResetComplete, core.TokenReset, "racer@example.com"); n != 1 {
			t.Errorf("%d successful completes audited", n)
		}
	})

	t.Run("a second initiate voids the first", func(t *testing.T) {
		createUser(t, env, "", "twice@example.com")
		first := resetToken(t, env, "twice@example.com")
		second := resetToken(t, env, "twice@example.com")
		if first == second {
			t.Fatal("same token twice")
		}
		wantError(t, do(t, ts, "POST", completeURL, map[string]string{"token": first, "new_password": newPassword}), http.StatusBadRequest, "invalid_grant")
		wantStatus(t, do(t, ts, "POST", completeURL, map[string]string{"token": second, "new_password": newPassword}), http.StatusNoContent)
		wantError(t, do(t, ts, "POST", completeURL, map[string]string{"token": second, "new_password": newPassword + "!"}), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("a refused password doesn't burn the token", func(t *testing.T) {
		createUser(t, env, "", "picky@example.com")
		tok := resetToken(t, env, "picky@example.com")
		wantError(t, do(t, ts, "POST", completeURL, map[string]string{"token": tok, "new_password": "short"}), http.StatusBadRequest, "weak_password")
		wantError(t, do(t, ts, "POST", completeURL, map[string]string{"token": tok, "new_password": strings.Repeat("x", 1025)}), http.StatusBadRequest, "invalid_request")
		wantStatus(t, do(t, ts, "POST", completeURL, map[string]string{"token": tok, "new_password": newPassword}), http.StatusNoContent)
	})

	t.Run("completion revokes every session and clears a lock", func(t *testing.T) {
		const email = "stuck@example.com"
		createUser(t, env, "", email)
		a := loginOK(t, ts, "", email, testPassword)
		b := loginOK(t, ts, "", email, testPassword)
		for range 5 {
			loginAs(t, ts, "", email, "a wrong guess, again")
		}
		wantError(t, loginAs(t, ts, "", email, testPassword), http.StatusTooManyRequests, "too_many_attempts")
		tok := resetToken(t, env, email)
		r := do(t, ts, "POST", completeURL, map[string]string{"token": tok, "new_password": newPassword})
		wantStatus(t, r, http.StatusNoContent)
		if len(r.Body) != 0 || strings.Contains(r.Header.Get("Set-Cookie"), "=") {
			t.Errorf("complete logs the user in: %q %v", r.Body, r.Header)
		}
		wantDead(t, ts, a)
		wantDead(t, ts, b)
		if n := sqlInt(t, env, `SELECT count(*) FROM users WHERE email = $1 AND locked_until IS NOT NULL`, email); n != 0 {
			t.Errorf("the lock is still in PostgreSQL")
		}
		wantError(t, loginAs(t, ts, "", email, testPassword), http.StatusBadRequest, "invalid_grant")
		loginOK(t, ts, "", email, newPassword)
	})

	t.Run("links are built from the issuer", func(t *testing.T) {
		createUser(t, env, "", "hosted@example.com")
		req := postReq(ts, initiateURL, map[string]string{"email": "hosted@example.com"},
			"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "host=evil.example;proto=https")
		req.Host = "evil.example"
		r, err := sendRaw(ts, req)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r, http.StatusAccepted)
		m, ok := env.Mail.Last("hosted@example.com", core.MailPasswordReset)
		if !ok {
			t.Fatal("no mail")
		}
		if !strings.HasPrefix(m.URL, ts.URL+"/password/reset?token=") || strings.Contains(m.URL, "evil") {
			t.Errorf("reset link %q is not on the issuer %s", m.URL, ts.URL)
		}
	})

	t.Run("disabled after the initiate", func(t *testing.T) {
		createUser(t, env, "", "fired@example.com")
		tok := resetToken(t, env, "fired@example.com")
		if _, err := env.Services.Users.Disable(ctx, "", "fired@example.com", cliMeta); err != nil {
			t.Fatal(err)
		}
		wantError(t, do(t, ts, "POST", completeURL, map[string]string{"token": tok, "new_password": newPassword}), http.StatusBadRequest, "invalid_grant")
		if n := sqlInt(t, env, `SELECT count(*) FROM users WHERE email = 'fired@example.com' AND status = 'disabled'`); n != 1 {
			t.Errorf("a reset re-enabled a disabled user")
		}
	})

	t.Run("mails per account are bounded, answers are not", func(t *testing.T) {
		createUser(t, env, "", "spammed@example.com")
		before := mailCount(env, "spammed@example.com")
		for range 8 {
			wantStatus(t, do(t, ts, "POST", initiateURL, map[string]string{"email": "spammed@example.com"}), http.StatusAccepted)
		}
		if n := mailCount(env, "spammed@example.com") - before; n < 1 || n > 5 {
			t.Errorf("%d reset mails for 8 requests, want 1..5", n)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		// Last: it moves core's clock.
		createUser(t, env, "", "slow@example.com")
		tok := resetToken(t, env, "slow@example.com")
		env.Clock.Advance(31 * time.Minute)
		wantError(t, do(t, ts, "POST", completeURL, map[string]string{"token": tok, "new_password": newPassword}), http.StatusBadRequest, "invalid_grant")
		loginOK(t, ts, "", "slow@example.com", testPassword)
	})
}

// mailCount counts the mails sent to an address.
func mailCount(env *testEnv, to string) int {
	env.Mail.settle()
	env.Mail.mu.Lock()
	defer env.Mail.mu.Unlock()
	n := 0
	for _, m := range env.Mail.sent {
		if m.To == to {
			n++
		}
	}
	return n
}

// jwksKIDs fetches the JWKS and returns its kids.
func jwksKIDs(t testing.TB, env *testEnv) ([]string, string) {
	t.Helper()
	r := do(t, env.TS, "GET", jwksURL, nil)
	wantStatus(t, r, http.StatusOK)
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids, r.Header.Get("ETag")
}

// TestContractKeyRotation: a staged rotation breaks nobody and the server
// signs with the new key at once; an emergency rotation kills the old key's
// tokens.
func TestContractKeyRotation(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()

	before, etag1 := jwksKIDs(t, env)
	old := loginOK(t, ts, "", testUser, testPassword)
	if !slices.Contains(before, old.KID) {
		t.Fatalf("token kid %s not in JWKS %v", old.KID, before)
	}

	res, err := env.Services.Keys.Rotate(ctx, core.RotateOptions{Emergency: false, Force: true}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	if res.Retired != old.KID || !slices.Contains(before, res.Active) {
		t.Fatalf("rotation %+v: the published next key must become active", res)
	}
	after, etag2 := jwksKIDs(t, env)
	if etag1 == etag2 {
		t.Errorf("ETag unchanged by a rotation")
	}
	var shared []string
	for _, k := range before {
		if slices.Contains(after, k) {
			shared = append(shared, k)
		}
	}
	if len(shared) == 0 || !slices.Contains(after, old.KID) || !slices.Contains(after, res.Next) {
		t.Errorf("JWKS before %v, after %v", before, after)
	}
	if _, err := joseVerify(t, env, old.AccessToken); err != nil {
		t.Errorf("go-jose rejects a pre-rotation token against the new JWKS: %v", err)
	}
	wantStatus(t, me(t, ts, old.AccessToken), http.StatusOK)

	// The same process signs with the new key right away.
	fresh := loginOK(t, ts, "", testUser, testPassword)
	if h, _ := jwtSegments(t, fresh.AccessToken); fresh.KID != res.Active || h["kid"] != res.Active {
		t.Errorf("new token kid %s / %v, want %s", fresh.KID, h["kid"], res.Active)
	}
	if _, err := joseVerify(t, env, fresh.AccessToken); err != nil {
		t.Errorf("go-jose rejects a post-rotation token: %v", err)
	}
	// Refreshing the old session moves it to the new key.
	if tr := wantAlive(t, ts, old); tr.KID != res.Active {
		t.Errorf("refreshed token kid %s, want %s", tr.KID, res.Active)
	}

	// Emergency: the key that signed fresh is dropped at once.
	em, err := env.Services.Keys.Rotate(ctx, core.RotateOptions{Emergency: true, Force: true}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	if em.Retired != res.Active {
		t.Fatalf("emergency rotation %+v", em)
	}
	now, _ := jwksKIDs(t, env)
	if slices.Contains(now, res.Active) || !slices.Contains(now, em.Active) || !slices.Contains(now, em.Next) {
		t.Errorf("JWKS after emergency %v (dropped %s)", now, res.Active)
	}
	wantInvalidToken(t, me(t, ts, fresh.AccessToken))
	if _, err := joseVerify(t, env, fresh.AccessToken); err == nil {
		t.Errorf("go-jose still verifies a token of the compromised key")
	}
	// Its session is not lost: a refresh gets a token of the new key.
	r := refresh(t, ts, fresh.RefreshToken)
	wantStatus(t, r, http.StatusOK)
	if tr := decodeTokens(t, r); tr.KID != em.Active {
		t.Errorf("kid %s after emergency rotation, want %s", tr.KID, em.Active)
	} else {
		wantStatus(t, me(t, ts, tr.AccessToken), http.StatusOK)
	}
	if n := auditCount(t, env, core.EventKeyRotate, "*", ""); n != 2 {
		t.Errorf("%d key_rotate rows, want 2", n)
	}
}

// TestContractAuditTrail runs one of everything and checks that exactly the
// expected audit rows exist, each tied to the request that caused it, and
// that no password or token reached the logs.
func TestContractAuditTrail(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()
	start := sqlInt(t, env, `SELECT COALESCE(max(id), 0) FROM user_login_events`)

	type row struct{ event, outcome, reason, requestID string }
	var want []row
	var secrets []string
	seq := 0
	rid := func() []string {
		seq++
		return []string{"X-Request-Id", fmt.Sprintf("audit-%02d", seq)}
	}
	last := func() string { return fmt.Sprintf("audit-%02d", seq) }
	expect := func(event, outcome, reason string) {
		want = append(want, row{event, outcome, reason, last()})
	}
	keepTokens := func(tr core.TokenResponse) core.TokenResponse {
		secrets = append(secrets, tr.AccessToken, tr.RefreshToken)
		return tr
	}
	tokens := func(r response) core.TokenResponse {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		return keepTokens(decodeTokens(t, r))
	}
	const (
		wrongPassword = "an entirely wrong passphrase"
		resetPassword = "the password after the reset"
		changed       = "the password after the change"
	)
	secrets = append(secrets, testPassword, wrongPassword, resetPassword, changed)

	// Logins: a success, five failures and a lock, a refusal while locked,
	// an unknown email.
	first := tokens(loginAs(t, ts, "", testUser, testPassword, rid()...))
	expect(core.EventLoginSuccess, "success", "")
	createUser(t, env, "", "locky@example.com")
	want = append(want, row{core.EventUserCreate, "success", "", ""})
	for i := range 5 {
		wantError(t, loginAs(t, ts, "", "locky@example.com", wrongPassword, rid()...), http.StatusBadRequest, "invalid_grant")
		expect(core.EventLoginFailure, "failure", core.ReasonBadPassword)
		if i == 4 {
			expect(core.EventAccountLocked, "success", "max_attempts")
		}
	}
	wantError(t, loginAs(t, ts, "", "locky@example.com", testPassword, rid()...), http.StatusTooManyRequests, "too_many_attempts")
	expect(core.EventLoginFailure, "failure", core.ReasonLocked)
	wantError(t, loginAs(t, ts, "", "ghost@example.com", testPassword, rid()...), http.StatusBadRequest, "invalid_grant")
	expect(core.EventLoginFailure, "failure", core.ReasonUnknownEmail)

	// Refresh, a replay inside the window, reuse after it.
	tokens(do(t, ts, "POST", refreshURL, map[string]string{"refresh_token": first.RefreshToken}, rid()...))
	expect(core.EventRefresh, "success", "")
	tokens(do(t, ts, "POST", refreshURL, map[string]string{"refresh_token": first.RefreshToken}, rid()...))
	expect(core.EventRefreshReplay, "success", "grace_window")
	env.Clock.Advance(11 * time.Second)
	wantError(t, do(t, ts, "POST", refreshURL, map[string]string{"refresh_token": first.RefreshToken}, rid()...), http.StatusBadRequest, "invalid_grant")
	expect(core.EventRefreshReuse, "failure", core.ReasonReuse)

	// Logout (the second one is a no-op and writes nothing).
	second := tokens(loginAs(t, ts, "", testUser, testPassword, rid()...))
	expect(core.EventLoginSuccess, "success", "")
	wantStatus(t, do(t, ts, "POST", logoutURL, map[string]string{"refresh_token": second.RefreshToken}, rid()...), http.StatusNoContent)
	expect(core.EventLogout, "success", "logout")
	wantStatus(t, do(t, ts, "POST", logoutURL, map[string]string{"refresh_token": second.RefreshToken}, rid()...), http.StatusNoContent)

	// Reset.
	wantStatus(t, do(t, ts, "POST", initiateURL, map[string]string{"email": testUser}, rid()...), http.StatusAccepted)
	expect(core.EventResetInitiate, "success", "")
	m, _ := env.Mail.Last(testUser, core.MailPasswordReset)
	u, _ := url.Parse(m.URL)
	resetTok := u.Query().Get("token")
	secrets = append(secrets, resetTok)
	wantStatus(t, do(t, ts, "POST", completeURL, map[string]string{"token": resetTok, "new_password": resetPassword}, rid()...), http.StatusNoContent)
	expect(core.EventResetComplete, "success", core.TokenReset)

	// Password change.
	third := tokens(loginAs(t, ts, "", testUser, resetPassword, rid()...))
	expect(core.EventLoginSuccess, "success", "")
	wantStatus(t, do(t, ts, "POST", changeURL, map[string]string{"current_password": resetPassword, "new_password": changed},
		append(rid(), "Authorization", bearer(third.AccessToken))...), http.StatusNoContent)
	expect(core.EventPasswordChange, "success", "")

	// Register, allowed and denied.
	admin := tokens(loginAs(t, ts, "", testAdmin, testPassword, rid()...))
	expect(core.EventLoginSuccess, "success", "")
	wantStatus(t, do(t, ts, "POST", registerURL, map[string]string{"email": "hired@example.com", "password": testPassword},
		append(rid(), "Authorization", bearer(admin.AccessToken))...), http.StatusCreated)
	expect(core.EventRegister, "success", "")
	wantError(t, do(t, ts, "POST", registerURL, map[string]string{"email": "sneaky@example.com", "password": testPassword},
		append(rid(), "Authorization", bearer(third.AccessToken))...), http.StatusForbidden, "forbidden")
	expect(core.EventRegister, "failure", "not_admin")

	// CLI-side events carry no request id.
	if _, err := env.Services.Users.Disable(ctx, "", "hired@example.com", cliMeta); err != nil {
		t.Fatal(err)
	}
	want = append(want, row{core.EventUserDisable, "success", "", ""})

	rows, err := env.DB.Query(`SELECT event, outcome, reason, request_id, client_ip, occurred_at FROM user_login_events WHERE id > $1 ORDER BY id`, start)
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	for rows.Next() {
		var r row
		var ip string
		var at time.Time
		if err := rows.Scan(&r.event, &r.outcome, &r.reason, &r.requestID, &ip, &at); err != nil {
			t.Fatal(err)
		}
		if r.requestID != "" && ip != "127.0.0.1" {
			t.Errorf("%v: client_ip %q", r, ip)
		}
		if at.IsZero() {
			t.Errorf("%v: no time", r)
		}
		got = append(got, r)
	}
	rows.Close()
	key := func(r row) string { return r.event + "/" + r.outcome + "/" + r.reason + "/" + r.requestID }
	count := func(rs []row) map[string]int {
		m := map[string]int{}
		for _, r := range rs {
			m[key(r)]++
		}
		return m
	}
	gotN, wantN := count(got), count(want)
	for k, n := range wantN {
		if gotN[k] != n {
			t.Errorf("audit %s: %d rows, want %d", k, gotN[k], n)
		}
	}
	for k, n := range gotN {
		if wantN[k] == 0 {
			t.Errorf("unexpected audit rows %s (x%d)", k, n)
		}
	}

	wantNoSecretsInLogs(t, env, secrets...)
}

// jwtLike matches anything shaped like a signed JWT.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}`)

// wantNoSecretsInLogs greps every captured log line for the secrets, for
// the distinctive parts of access tokens and for anything shaped like a JWT.
func wantNoSecretsInLogs(t testing.TB, env *testEnv, secrets ...string) {
	t.Helper()
	logs := env.Logs.String()
	if len(logs) == 0 {
		t.Fatal("no logs captured")
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		needles := []string{s}
		if parts := strings.Split(s, "."); len(parts) == 3 {
			// The header segment is the same for every token of a key;
			// payload and signature are unique.
			needles = []string{parts[1], parts[2]}
		}
		for form, v := range secretForms(s) {
			if form != "plain" && len(v) >= 16 {
				needles = append(needles, v)
			}
		}
		for _, n := range needles {
			if strings.Contains(logs, n) {
				t.Errorf("the logs hold a secret (%.10s...)", n)
			}
		}
	}
	if m := jwtLike.FindString(logs); m != "" {
		t.Errorf("the logs hold a JWT: %.40s...", m)
	}
	for _, s := range []string{"Bearer ", "password_hash", "$2a$", "$2b$", "private_key"} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain %q", s)
		}
	}
}
