package server_test

// Contract tests of issue 14: the admin API under /api/v1/admin/ (docs/api.md,
// "Admin API"). The permission matrix these tests cover is listed in
// docs/api.md and in the branch's notes.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/idp-dev/idp/internal/core"
)

const adminURL = "/api/v1/admin"

// adminFixture is the default tenant (admin, member) and tenant b (its
// own admin and member), plus a seeded admin of tenant c that hasn't
// changed its one-time password and an admin that is then disabled.
type adminFixture struct {
	env                         *testEnv
	admin, member, other, fresh []string // Authorization headers
	disabled                    []string
	memberID, otherMemberID     string
	adminID, otherAdminID       string
}

func newAdminFixture(t *testing.T) *adminFixture {
	t.Helper()
	env := newContractEnv(t, nil)
	ts, ctx := env.TS, context.Background()
	createUser(t, env, "", "member@example.com", "member")
	createUser(t, env, "", "gone@example.com", core.RoleAdmin)
	createUser(t, env, "b", "admin@b.example", core.RoleAdmin)
	createUser(t, env, "b", "member@b.example", "member")
	seed, err := env.Services.Users.Seed(ctx, core.SeedInput{Tenant: "c", Email: "root@c.example"}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(tenant, email, pw string) []string {
		return []string{"Authorization", bearer(loginOK(t, ts, tenant, email, pw).AccessToken)}
	}
	f := &adminFixture{env: env,
		admin: auth("", testAdmin, testPassword), member: auth("", "member@example.com", testPassword),
		other: auth("b", "admin@b.example", testPassword), fresh: auth("c", seed.Email, seed.Password),
		disabled: auth("", "gone@example.com", testPassword)}
	if _, err := env.Services.Users.Disable(ctx, "", "gone@example.com", cliMeta); err != nil {
		t.Fatal(err)
	}
	id := func(tenant, email string) string {
		v, err := env.Services.Admin.User(ctx, core.Operator(tenant), core.ByEmail(email), cliMeta)
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	f.memberID, f.otherMemberID = id("", "member@example.com"), id("b", "member@b.example")
	f.adminID, f.otherAdminID = id("", testAdmin), id("b", "admin@b.example")
	return f
}

// adminCall is one request of the matrix.
type adminCall struct {
	name, method, path string
	body               any
}

func (f *adminFixture) calls() []adminCall {
	u := adminURL + "/users/" + f.memberID
	return []adminCall{
		{"list users", "GET", adminURL + "/users", nil},
		{"create user", "POST", adminURL + "/users", map[string]any{"email": "new@example.com"}},
		{"get user", "GET", u, nil},
		{"update user", "PATCH", u, map[string]any{"display_name": "M"}},
		{"disable", "POST", u + "/disable", nil},
		{"enable", "POST", u + "/enable", nil},
		{"unlock", "POST", u + "/unlock", nil},
		{"invite", "POST", u + "/invite", nil},
		{"sessions", "GET", u + "/sessions", nil},
		{"revoke sessions", "DELETE", u + "/sessions", nil},
		{"revoke one", "DELETE", u + "/sessions/00000000-0000-4000-8000-000000000001", nil},
		{"list roles", "GET", adminURL + "/roles", nil},
		{"create role", "POST", adminURL + "/roles", map[string]any{"name": "x"}},
		{"delete role", "DELETE", adminURL + "/roles/member", nil},
		{"audit", "GET", adminURL + "/audit", nil},
		{"tenant", "GET", adminURL + "/tenant", nil},
	}
}

// TestAdminAPIPermissions: every admin endpoint refuses everyone but an
// active admin of the tenant with no pending password change, each
// refusal audited with the caller as actor; and refusals change nothing.
func TestAdminAPIPermissions(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	ts := f.env.TS
	for _, c := range f.calls() {
		t.Run(c.name, func(t *testing.T) {
			wantInvalidToken(t, do(t, ts, c.method, c.path, c.body))
			// A disabled admin's tokens died with its sessions.
			wantInvalidToken(t, do(t, ts, c.method, c.path, c.body, f.disabled...))
			for _, who := range []struct {
				name string
				auth []string
				desc string
			}{
				{"member", f.member, `needs the "admin" role`},
				{"admin with a pending password change", f.fresh, "password must be changed"},
			} {
				r := do(t, ts, c.method, c.path, c.body, who.auth...)
				m := wantError(t, r, http.StatusForbidden, "forbidden")
				if !strings.Contains(m["error_description"].(string), who.desc) {
					t.Errorf("%s: description %q", who.name, m["error_description"])
				}
			}
		})
	}
	n := len(f.calls())
	if got := sqlInt(t, f.env, `SELECT count(*) FROM user_login_events WHERE event = 'admin_denied' AND reason LIKE 'not_admin:%'
		AND actor = (SELECT id::text FROM users WHERE email = 'member@example.com')`); got != n {
		t.Errorf("%d not_admin rows with the member as actor, want %d", got, n)
	}
	if got := sqlInt(t, f.env, `SELECT count(*) FROM user_login_events WHERE event = 'admin_denied' AND reason LIKE 'password_change_required:%'`); got != n {
		t.Errorf("%d password_change_required rows, want %d", got, n)
	}
	if sqlInt(t, f.env, `SELECT count(*) FROM users WHERE email = 'new@example.com'`) != 0 ||
		sqlInt(t, f.env, `SELECT count(*) FROM roles WHERE name = 'x'`) != 0 ||
		sqlInt(t, f.env, `SELECT count(*) FROM users WHERE email = 'member@example.com' AND status = 'active'`) != 1 {
		t.Error("a refused call changed something")
	}
}

// TestAdminAPIOtherTenant: an admin of tenant b reads and changes nothing
// of the default tenant: its users are "not found" (like unknown ids), the
// lists hold b's data only.
func TestAdminAPIOtherTenant(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	ts := f.env.TS
	for _, c := range f.calls() {
		if !strings.Contains(c.path, f.memberID) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			wantError(t, do(t, ts, c.method, c.path, c.body, f.other...), http.StatusNotFound, "not_found")
			unknown := strings.Replace(c.path, f.memberID, "00000000-0000-4000-8000-0000000000ff", 1)
			a := do(t, ts, c.method, c.path, c.body, f.other...)
			b := do(t, ts, c.method, unknown, c.body, f.other...)
			if string(a.Body) != string(b.Body) {
				t.Errorf("another tenant's user answers %s, an unknown id %s", a.Body, b.Body)
			}
		})
	}
	r := do(t, ts, "GET", adminURL+"/audit?user_id="+f.memberID, nil, f.other...)
	wantError(t, r, http.StatusNotFound, "not_found")

	users := do(t, ts, "GET", adminURL+"/users", nil, f.other...)
	wantStatus(t, users, http.StatusOK)
	if s := string(users.Body); strings.Contains(s, "@example.com") || !strings.Contains(s, "member@b.example") {
		t.Errorf("b's user list: %s", s)
	}
	audit := do(t, ts, "GET", adminURL+"/audit?limit=200", nil, f.other...)
	wantStatus(t, audit, http.StatusOK)
	for _, e := range audit.JSON(t)["events"].([]any) {
		ev := e.(map[string]any)
		if ev["tenant"] != "b" || strings.HasSuffix(fmt.Sprint(ev["email"]), "@example.com") {
			t.Errorf("b's audit log shows %v", ev)
		}
	}
	roles := do(t, ts, "GET", adminURL+"/roles", nil, f.other...)
	if s := string(roles.Body); !strings.Contains(s, `"holders":1`) || strings.Contains(s, `"holders":2`) {
		t.Errorf("b's roles count holders elsewhere: %s", s)
	}
	if m := do(t, ts, "GET", adminURL+"/tenant", nil, f.other...).JSON(t); m["slug"] != "b" {
		t.Errorf("b's tenant: %v", m)
	}
	// Nothing of the default tenant changed.
	if sqlInt(t, f.env, `SELECT count(*) FROM users WHERE email = 'member@example.com' AND status = 'active' AND roles = '{member}'`) != 1 {
		t.Error("the default tenant's member changed")
	}
}

// TestAdminAPIGrants: catalogue roles only, named when missing; admin
// granted by an admin; an admin keeps its own.
func TestAdminAPIGrants(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	ts := f.env.TS
	u := adminURL + "/users/" + f.memberID
	r := do(t, ts, "PATCH", u, map[string]any{"roles": []string{"member", "billing"}}, f.admin...)
	m := wantError(t, r, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(m["error_description"].(string), `role "billing" is not in the role catalogue of tenant "default"`) {
		t.Errorf("description %q", m["error_description"])
	}
	r = do(t, ts, "POST", adminURL+"/users", map[string]any{"email": "c@example.com", "roles": []string{"auditor"}}, f.admin...)
	wantError(t, r, http.StatusBadRequest, "invalid_request")

	r = do(t, ts, "PATCH", u, map[string]any{"roles": []string{"admin", "member"}}, f.admin...)
	wantStatus(t, r, http.StatusOK)
	if got := r.JSON(t)["roles"]; fmt.Sprint(got) != "[admin member]" {
		t.Fatalf("roles %v", got)
	}
	// The member holds admin now: its old token works on the admin API at
	// once (roles are read from the database), and it can grant admin too.
	r = do(t, ts, "POST", adminURL+"/users", map[string]any{"email": "d@example.com", "password": testPassword, "roles": []string{"admin"}}, f.member...)
	wantStatus(t, r, http.StatusCreated)
	// Taken away, it is refused at once.
	wantStatus(t, do(t, ts, "PATCH", u, map[string]any{"roles": []string{"member"}}, f.admin...), http.StatusOK)
	wantError(t, do(t, ts, "GET", adminURL+"/users", nil, f.member...), http.StatusForbidden, "forbidden")
	// Granting admin as a non-admin: refused before anything else.
	r = do(t, ts, "PATCH", adminURL+"/users/"+f.adminID, map[string]any{"roles": []string{"admin", "member"}}, f.member...)
	wantError(t, r, http.StatusForbidden, "forbidden")

	self := adminURL + "/users/" + f.adminID
	m = wantError(t, do(t, ts, "PATCH", self, map[string]any{"roles": []string{}}, f.admin...), http.StatusForbidden, "forbidden")
	if !strings.Contains(m["error_description"].(string), "itself") {
		t.Errorf("self-demotion: %q", m["error_description"])
	}
	wantError(t, do(t, ts, "POST", self+"/disable", nil, f.admin...), http.StatusForbidden, "forbidden")
	wantError(t, do(t, ts, "PATCH", u, map[string]any{"roles": nil}, f.admin...), http.StatusBadRequest, "invalid_request")
	wantError(t, do(t, ts, "PATCH", u, map[string]any{}, f.admin...), http.StatusBadRequest, "invalid_request")
	wantError(t, do(t, ts, "PATCH", u, map[string]any{"roles": "member"}, f.admin...), http.StatusBadRequest, "invalid_request")
	wantError(t, do(t, ts, "GET", adminURL+"/users/not-a-uuid", nil, f.admin...), http.StatusBadRequest, "invalid_request")
	if n := sqlInt(t, f.env, `SELECT count(*) FROM user_login_events WHERE event = 'user_update' AND actor = $1`, f.adminID); n != 2 {
		t.Errorf("%d user_update rows with the admin as actor, want 2", n)
	}
}

// TestAdminAPIUsersPages: walking the cursor returns every user once, in
// email order, for every page size; filters apply across pages.
func TestAdminAPIUsersPages(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	ts, ctx := f.env.TS, context.Background()
	for i := range 31 {
		in := core.CreateInput{Email: fmt.Sprintf("p%02d@example.com", i)}
		if i%3 == 0 {
			in.Roles = []string{"member"}
		}
		if _, err := f.env.Services.Admin.CreateUser(ctx, core.Operator(""), in, cliMeta); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(q url.Values) []string {
		t.Helper()
		var out []string
		for pages := 0; pages < 100; pages++ {
			r := do(t, ts, "GET", adminURL+"/users?"+q.Encode(), nil, f.admin...)
			wantStatus(t, r, http.StatusOK)
			m := r.JSON(t)
			for _, u := range m["users"].([]any) {
				out = append(out, u.(map[string]any)["email"].(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				return out
			}
			q.Set("cursor", next)
		}
		t.Fatal("the cursor never ends")
		return nil
	}
	all := walk(url.Values{"limit": {"200"}})
	if len(all) != 31+4 || !slices.IsSorted(all) {
		t.Fatalf("one page: %d users", len(all))
	}
	for _, size := range []string{"1", "7", "35", "50"} {
		if got := walk(url.Values{"limit": {size}}); !slices.Equal(got, all) {
			t.Errorf("limit %s: %d users, want the same %d", size, len(got), len(all))
		}
	}
	members := walk(url.Values{"limit": {"4"}, "role": {"member"}, "status": {"pending"}, "email_prefix": {"P"}})
	if len(members) != 11 || members[0] != "p00@example.com" {
		t.Errorf("filtered walk: %v", members)
	}
	if got := walk(url.Values{}); len(got) != len(all) {
		t.Errorf("default page size: %d", len(got))
	}
	for _, q := range []string{"limit=201", "limit=0x", "limit=-3", "cursor=garbage!", "status=gone", "limit=1&limit=2", "role=Not%20A%20Role"} {
		wantError(t, do(t, ts, "GET", adminURL+"/users?"+q, nil, f.admin...), http.StatusBadRequest, "invalid_request")
	}
}

// TestAdminAPIFlow: an admin creates and invites a user, who sets a
// password and logs in; the admin changes its roles, lists and revokes its
// sessions, disables it (its refresh dies), enables and unlocks it; the
// catalogue grows and shrinks; the audit log has every step with the
// admin as actor.
func TestAdminAPIFlow(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	ts := f.env.TS
	r := do(t, ts, "POST", adminURL+"/roles", map[string]any{"name": "reports:read", "description": "Reads reports"}, f.admin...)
	wantStatus(t, r, http.StatusCreated)
	if m := r.JSON(t); m["name"] != "reports:read" || m["holders"] != float64(0) || m["builtin"] != false {
		t.Errorf("role %v", m)
	}
	wantError(t, do(t, ts, "POST", adminURL+"/roles", map[string]any{"name": "reports:read"}, f.admin...), http.StatusConflict, "conflict")

	r = do(t, ts, "POST", adminURL+"/users", map[string]any{"email": "Newbie@Example.com", "display_name": "New Bie",
		"roles": []string{"member", "reports:read"}}, f.admin...)
	wantStatus(t, r, http.StatusCreated)
	created := r.JSON(t)
	id := created["id"].(string)
	if created["status"] != "pending" || created["email"] != "newbie@example.com" || created["locked_until"] != nil {
		t.Fatalf("created %s", r.Body)
	}
	wantError(t, do(t, ts, "POST", adminURL+"/users", map[string]any{"email": "newbie@example.com"}, f.admin...), http.StatusConflict, "conflict")
	u := adminURL + "/users/" + id
	wantStatus(t, do(t, ts, "POST", u+"/invite", nil, f.admin...), http.StatusOK)
	f.env.Mail.settle()
	mail, ok := f.env.Mail.Last("newbie@example.com", core.MailInvite)
	if !ok {
		t.Fatal("no invite mail")
	}
	link, _ := url.Parse(mail.URL)
	wantStatus(t, do(t, ts, "POST", completeURL, map[string]string{"token": link.Query().Get("token"), "new_password": "a welcome passphrase"}), http.StatusNoContent)
	wantError(t, do(t, ts, "POST", u+"/invite", nil, f.admin...), http.StatusConflict, "conflict")
	wantError(t, do(t, ts, "DELETE", adminURL+"/roles/member", nil, f.admin...), http.StatusConflict, "conflict")
	wantError(t, do(t, ts, "DELETE", adminURL+"/roles/admin", nil, f.admin...), http.StatusConflict, "conflict")
	wantError(t, do(t, ts, "DELETE", adminURL+"/roles/ghost", nil, f.admin...), http.StatusNotFound, "not_found")

	tr := loginOK(t, ts, "", "newbie@example.com", "a welcome passphrase")
	r = do(t, ts, "GET", u, nil, f.admin...)
	wantStatus(t, r, http.StatusOK)
	if m := r.JSON(t); m["status"] != "active" || m["email_verified_at"] == nil || m["last_login_at"] == nil {
		t.Errorf("user after sign-in: %s", r.Body)
	}
	wantStatus(t, do(t, ts, "PATCH", u, map[string]any{"roles": []string{"member"}}, f.admin...), http.StatusOK)
	wantStatus(t, do(t, ts, "DELETE", adminURL+"/roles/reports:read", nil, f.admin...), http.StatusNoContent)

	r = do(t, ts, "GET", u+"/sessions", nil, f.admin...)
	wantStatus(t, r, http.StatusOK)
	sessions := r.JSON(t)["sessions"].([]any)
	if len(sessions) != 1 {
		t.Fatalf("sessions %s", r.Body)
	}
	sid := sessions[0].(map[string]any)["id"].(string)
	wantError(t, do(t, ts, "DELETE", adminURL+"/users/"+f.memberID+"/sessions/"+sid, nil, f.admin...), http.StatusNotFound, "not_found")
	r = do(t, ts, "DELETE", u+"/sessions/"+sid, nil, f.admin...)
	wantStatus(t, r, http.StatusOK)
	if r.JSON(t)["revoked"] != float64(1) {
		t.Errorf("revoke one: %s", r.Body)
	}
	wantDead(t, ts, tr)

	tr = loginOK(t, ts, "", "newbie@example.com", "a welcome passphrase")
	r = do(t, ts, "POST", u+"/disable", nil, f.admin...)
	wantStatus(t, r, http.StatusOK)
	if r.JSON(t)["status"] != "disabled" {
		t.Errorf("disable: %s", r.Body)
	}
	wantDead(t, ts, tr)
	wantStatus(t, do(t, ts, "POST", u+"/enable", nil, f.admin...), http.StatusOK)
	for range 6 {
		loginAs(t, ts, "", "newbie@example.com", "not the password at all")
	}
	wantError(t, loginAs(t, ts, "", "newbie@example.com", "a welcome passphrase"), http.StatusTooManyRequests, "too_many_attempts")
	wantStatus(t, do(t, ts, "POST", u+"/unlock", nil, f.admin...), http.StatusOK)
	tr = loginOK(t, ts, "", "newbie@example.com", "a welcome passphrase")
	r = do(t, ts, "DELETE", u+"/sessions", nil, f.admin...)
	if wantStatus(t, r, http.StatusOK); r.JSON(t)["revoked"] != float64(1) {
		t.Errorf("revoke all: %s", r.Body)
	}
	wantDead(t, ts, tr)

	r = do(t, ts, "GET", adminURL+"/tenant", nil, f.admin...)
	wantStatus(t, r, http.StatusOK)
	if m := r.JSON(t); m["slug"] != testTenant || m["policies"].(map[string]any)["password_min_length"] != float64(12) {
		t.Errorf("tenant %s", r.Body)
	}

	// The audit log, read through the API: every step, the admin as actor.
	var events []map[string]any
	q := url.Values{"user_id": {id}, "limit": {"3"}}
	for {
		r := do(t, ts, "GET", adminURL+"/audit?"+q.Encode(), nil, f.admin...)
		wantStatus(t, r, http.StatusOK)
		m := r.JSON(t)
		for _, e := range m["events"].([]any) {
			events = append(events, e.(map[string]any))
		}
		if m["next_cursor"] == "" {
			break
		}
		q.Set("cursor", m["next_cursor"].(string))
	}
	byAdmin := map[string]bool{}
	for _, e := range events {
		if e["email"] != "newbie@example.com" {
			t.Errorf("user_id filter shows %v", e)
		}
		if e["actor"] == f.adminID {
			byAdmin[fmt.Sprint(e["event"], ":", e["reason"])] = true
		}
	}
	for _, want := range []string{"user_create:", "user_invite:resend", "user_update:roles", "sessions_revoke:session",
		"user_disable:", "user_enable:", "account_unlocked:admin", "sessions_revoke:user", "admin_read:user.get", "admin_read:user.sessions"} {
		if !byAdmin[want] {
			t.Errorf("no %s event with the admin as actor (have %v)", want, byAdmin)
		}
	}
	r = do(t, ts, "GET", adminURL+"/audit?event=role_create&hide_reads=true", nil, f.admin...)
	wantStatus(t, r, http.StatusOK)
	if ev := r.JSON(t)["events"].([]any); len(ev) != 2 || ev[0].(map[string]any)["reason"] != "reports:read" ||
		ev[0].(map[string]any)["actor"] != f.adminID || ev[1].(map[string]any)["actor"] != "cli" {
		t.Errorf("role_create events: %s", r.Body)
	}
	for _, q := range []string{"since=yesterday", "until=2026-13-01T00:00:00Z", "event=Bad%20Event", "hide_reads=maybe", "since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z"} {
		wantError(t, do(t, ts, "GET", adminURL+"/audit?"+q, nil, f.admin...), http.StatusBadRequest, "invalid_request")
	}
	r = do(t, ts, "GET", adminURL+"/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", nil, f.admin...)
	if wantStatus(t, r, http.StatusOK); len(r.JSON(t)["events"].([]any)) != 0 {
		t.Errorf("an empty time range: %s", r.Body)
	}
}
