package core_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// principal logs email in and authenticates its access token, as the admin
// API does for every request.
func (h *harness) principal(tenant, email string) core.Principal {
	h.t.Helper()
	ctx := context.Background()
	tr, err := h.svcs.Auth.Login(ctx, core.LoginInput{Tenant: tenant, Email: email, Password: testPassword}, meta())
	if err != nil {
		h.t.Fatalf("login %s: %v", email, err)
	}
	p, err := h.svcs.Auth.Authenticate(ctx, tr.AccessToken)
	if err != nil {
		h.t.Fatalf("authenticate %s: %v", email, err)
	}
	return p
}

// adminWorld is two tenants with an admin and a member each, plus a
// must-change admin and a plain user in the default one.
type adminWorld struct {
	h                    *harness
	admin, member, plain core.Principal
	otherAdmin           core.Principal
	otherMember          core.AdminUser
	memberID             string
}

func newAdminWorld(t *testing.T) *adminWorld {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.svcs.Tenants.Create(ctx, "b", "Tenant B", meta()); err != nil {
		t.Fatal(err)
	}
	h.roles("default", "member")
	h.roles("b", "member")
	h.user("admin@example.com", "admin")
	m := h.user("member@example.com", "member")
	h.user("plain@example.com")
	if _, err := h.svcs.Users.Create(ctx, core.CreateInput{Tenant: "b", Email: "admin@b.example", Password: testPassword, Roles: []string{"admin"}}, meta()); err != nil {
		t.Fatal(err)
	}
	om, err := h.svcs.Admin.CreateUser(ctx, core.Operator("b"), core.CreateInput{Email: "member@b.example", Password: testPassword, Roles: []string{"member"}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	return &adminWorld{h: h, admin: h.principal("", "admin@example.com"), member: h.principal("", "member@example.com"),
		plain: h.principal("", "plain@example.com"), otherAdmin: h.principal("b", "admin@b.example"), otherMember: om, memberID: m.ID}
}

// TestAdminPermissions is the permission matrix of tenant administration:
// who may call what, each refusal with its code and its audit row.
func TestAdminPermissions(t *testing.T) {
	w := newAdminWorld(t)
	h, ctx := w.h, context.Background()
	seeded, err := h.svcs.Users.Seed(ctx, core.SeedInput{Tenant: "c", Email: "root@c.example"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := h.svcs.Auth.Login(ctx, core.LoginInput{Tenant: "c", Email: "root@c.example", Password: seeded.Password}, meta())
	if err != nil {
		t.Fatal(err)
	}
	mustChange, err := h.svcs.Auth.Authenticate(ctx, tr.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	disabled := w.admin
	disabled.User.Status = core.UserDisabled // a principal read just before the disable committed

	calls := map[string]func(core.Actor) error{
		"users.list": func(a core.Actor) error { _, err := h.svcs.Admin.Users(ctx, a, core.UserQuery{}, meta()); return err },
		"user.get": func(a core.Actor) error {
			_, err := h.svcs.Admin.User(ctx, a, core.ByID(w.memberID), meta())
			return err
		},
		"users.create": func(a core.Actor) error {
			_, err := h.svcs.Admin.CreateUser(ctx, a, core.CreateInput{Email: "new@example.com"}, meta())
			return err
		},
		"users.disable": func(a core.Actor) error {
			_, err := h.svcs.Admin.Disable(ctx, a, core.ByID(w.memberID), meta())
			return err
		},
		"roles.create": func(a core.Actor) error {
			_, err := h.svcs.Roles.Create(ctx, a, "reader", "", meta())
			return err
		},
		"audit.list": func(a core.Actor) error {
			_, err := h.svcs.Admin.Audit(ctx, a, core.AuditPageQuery{}, meta())
			return err
		},
		"tenant.get": func(a core.Actor) error { _, err := h.svcs.Admin.Tenant(ctx, a, meta()); return err },
	}
	for _, tc := range []struct {
		name   string
		p      core.Principal
		reason string
	}{
		{"member", w.member, "not_admin"},
		{"user without roles", w.plain, "not_admin"},
		{"admin with a pending password change", mustChange, "password_change_required"},
		{"disabled admin", disabled, "inactive"},
	} {
		for action, call := range calls {
			t.Run(tc.name+" "+action, func(t *testing.T) {
				before := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'admin_denied' AND reason = $1 AND actor = $2`,
					tc.reason+":"+action, tc.p.User.ID.String())
				wantCode(t, call(core.TenantAdmin(tc.p)), core.EFORBIDDEN)
				after := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'admin_denied' AND reason = $1 AND actor = $2`,
					tc.reason+":"+action, tc.p.User.ID.String())
				if after != before+1 {
					t.Fatalf("refusal audited %d times", after-before)
				}
			})
		}
	}
	if _, err := h.svcs.Users.List(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	// The refusals changed nothing.
	if v, err := h.svcs.Admin.User(ctx, core.Operator(""), core.ByID(w.memberID), meta()); err != nil || v.Status != core.UserActive {
		t.Fatalf("member after refused disables: %+v %v", v, err)
	}
	if _, err := h.svcs.Admin.User(ctx, core.Operator(""), core.ByEmail("new@example.com"), meta()); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("a refused create made a user: %v", err)
	}
	if !core.CanAdminister(w.admin.User) || core.CanAdminister(mustChange.User) || core.CanAdminister(w.member.User) || core.CanAdminister(disabled.User) {
		t.Fatal("CanAdminister disagrees with the matrix")
	}
}

// TestAdminOtherTenant: an admin of tenant B sees and changes nothing of
// tenant A; an id of A's user is "not found", like an unknown id, and the
// attempt is in B's log without A's user's email.
func TestAdminOtherTenant(t *testing.T) {
	w := newAdminWorld(t)
	h, ctx := w.h, context.Background()
	b := core.TenantAdmin(w.otherAdmin)
	ref := core.ByID(w.memberID)
	for name, call := range map[string]func() error{
		"get":    func() error { _, err := h.svcs.Admin.User(ctx, b, ref, meta()); return err },
		"detail": func() error { _, err := h.svcs.Admin.UserDetail(ctx, b, ref, meta()); return err },
		"update": func() error {
			_, err := h.svcs.Admin.UpdateUser(ctx, b, ref, core.UserInput{Roles: &[]string{}}, meta())
			return err
		},
		"disable":  func() error { _, err := h.svcs.Admin.Disable(ctx, b, ref, meta()); return err },
		"enable":   func() error { _, err := h.svcs.Admin.Enable(ctx, b, ref, meta()); return err },
		"unlock":   func() error { _, err := h.svcs.Admin.Unlock(ctx, b, ref, meta()); return err },
		"sessions": func() error { _, err := h.svcs.Admin.Sessions(ctx, b, ref, meta()); return err },
		"revoke":   func() error { _, err := h.svcs.Admin.RevokeSessions(ctx, b, ref, "", meta()); return err },
		"invite":   func() error { _, err := h.svcs.Admin.ResendInvite(ctx, b, ref, meta()); return err },
		"audit": func() error {
			_, err := h.svcs.Admin.Audit(ctx, b, core.AuditPageQuery{UserID: w.memberID}, meta())
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			wantCode(t, err, core.ENOTFOUND)
			if core.ErrorMessage(err) != "no such user" {
				t.Fatalf("message %q", core.ErrorMessage(err))
			}
		})
	}
	_, err := h.svcs.Admin.User(ctx, b, core.ByID("00000000-0000-4000-8000-000000000000"), meta())
	if core.ErrorMessage(err) != "no such user" {
		t.Fatalf("an unknown id answers %v", err)
	}
	_, err = h.svcs.Admin.CreateUser(ctx, b, core.CreateInput{Tenant: "default", Email: "x@example.com"}, meta())
	wantCode(t, err, core.EFORBIDDEN)
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'admin_denied' AND reason LIKE 'other_tenant:%'
		AND tenant_slug = 'b' AND subject_email = '' AND subject_id IS NULL`); n != 11 {
		t.Fatalf("%d other_tenant rows in b's log without a subject, want 11", n)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE tenant_slug = 'b' AND subject_email LIKE '%@example.com'`); n != 0 {
		t.Fatalf("%d rows of b's log name a user of the default tenant", n)
	}

	// Lists are the admin's own tenant only.
	page, err := h.svcs.Admin.Users(ctx, b, core.UserQuery{}, meta())
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, u := range page.Users {
		emails = append(emails, u.Email)
	}
	if !slices.Equal(emails, []string{"admin@b.example", "member@b.example"}) {
		t.Fatalf("b's users: %v", emails)
	}
	events, err := h.svcs.Admin.Audit(ctx, b, core.AuditPageQuery{Limit: 200}, meta())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Events {
		if e.TenantSlug != "b" {
			t.Fatalf("b's audit page shows an event of %q: %+v", e.TenantSlug, e)
		}
	}
	roles, err := h.svcs.Roles.List(ctx, b, meta())
	if err != nil || len(roles) != 2 || roles[1].Holders != 1 {
		t.Fatalf("b's roles %+v %v (member held once, in b)", roles, err)
	}
	// B's admin deleting A's roles: B has its own catalogue.
	if err := h.svcs.Roles.Delete(ctx, b, "member", meta()); core.ErrorCode(err) != core.ECONFLICT {
		t.Fatalf("deleting b's member (held in b): %v", err)
	}
}

// TestAdminGrants: roles come from the tenant's catalogue, named when
// missing; admins grant admin; an admin keeps its own.
func TestAdminGrants(t *testing.T) {
	w := newAdminWorld(t)
	h, ctx := w.h, context.Background()
	a := core.TenantAdmin(w.admin)
	ref := core.ByID(w.memberID)
	set := func(roles ...string) (core.AdminUser, error) {
		return h.svcs.Admin.UpdateUser(ctx, a, ref, core.UserInput{Roles: &roles}, meta())
	}
	_, err := set("member", "billing", "ops")
	wantCode(t, err, core.EINVALID)
	if msg := core.ErrorMessage(err); !strings.Contains(msg, `"billing", "ops"`) || !strings.Contains(msg, `tenant "default"`) {
		t.Fatalf("message %q does not name the roles and tenant", msg)
	}
	_, err = h.svcs.Admin.CreateUser(ctx, a, core.CreateInput{Email: "c@example.com", Roles: []string{"billing"}}, meta())
	if !strings.Contains(core.ErrorMessage(err), `role "billing" is not`) {
		t.Fatalf("create with a missing role: %v", err)
	}
	// A role of another tenant's catalogue is not this tenant's.
	if _, err := h.svcs.Roles.Create(ctx, core.Operator("b"), "auditor", "", meta()); err != nil {
		t.Fatal(err)
	}
	_, err = set("auditor")
	wantCode(t, err, core.EINVALID)

	v, err := set("admin", "member")
	if err != nil || !slices.Equal(v.Roles, []string{"admin", "member"}) {
		t.Fatalf("admin granting admin: %+v %v", v, err)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'user_update' AND reason = 'roles' AND actor = $1`, w.admin.User.ID.String()); n != 1 {
		t.Fatalf("%d user_update rows with the admin as actor", n)
	}
	// The member is an admin now, at once: its next request passes.
	promoted := h.principal("", "member@example.com")
	if _, err := h.svcs.Admin.Users(ctx, core.TenantAdmin(promoted), core.UserQuery{}, meta()); err != nil {
		t.Fatalf("promoted member: %v", err)
	}
	// ... and loses it at once too: the old principal's user is re-read.
	if _, err := set("member"); err != nil {
		t.Fatal(err)
	}
	demoted := h.principal("", "member@example.com")
	if _, err := h.svcs.Admin.Users(ctx, core.TenantAdmin(demoted), core.UserQuery{}, meta()); core.ErrorCode(err) != core.EFORBIDDEN {
		t.Fatalf("demoted member: %v", err)
	}

	// An admin can't demote or disable itself.
	self := core.ByID(w.admin.User.ID.String())
	_, err = h.svcs.Admin.UpdateUser(ctx, a, self, core.UserInput{Roles: &[]string{"member"}}, meta())
	wantCode(t, err, core.EFORBIDDEN)
	_, err = h.svcs.Admin.Disable(ctx, a, self, meta())
	wantCode(t, err, core.EFORBIDDEN)
	for _, reason := range []string{"self_demote:users.update", "self_disable:users.disable"} {
		if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'admin_denied' AND reason = $1`, reason); n != 1 {
			t.Fatalf("%s audited %d times", reason, n)
		}
	}
	// The operator may: it is the way back for a tenant whose admins are gone.
	if _, err := h.svcs.Admin.UpdateUser(ctx, core.Operator(""), self, core.UserInput{Roles: &[]string{"admin", "member"}}, meta()); err != nil {
		t.Fatal(err)
	}
	name := "Ada"
	v, err = h.svcs.Admin.UpdateUser(ctx, a, ref, core.UserInput{DisplayName: &name}, meta())
	if err != nil || v.DisplayName != "Ada" || !slices.Equal(v.Roles, []string{"member"}) {
		t.Fatalf("display name: %+v %v", v, err)
	}
	_, err = h.svcs.Admin.UpdateUser(ctx, a, ref, core.UserInput{}, meta())
	wantCode(t, err, core.EINVALID)
	bad := "bad\u202e"
	_, err = h.svcs.Admin.UpdateUser(ctx, a, ref, core.UserInput{DisplayName: &bad}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Admin.UpdateUser(ctx, a, ref, core.UserInput{Roles: &[]string{"Not A Role"}}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Admin.User(ctx, a, core.ByID("not-a-uuid"), meta())
	wantCode(t, err, core.EINVALID)
}

// TestRoleCatalogue: create, list and delete; admin is built in; a role in
// use is not deleted; a grant racing a delete never leaves a user holding
// a deleted role.
func TestRoleCatalogue(t *testing.T) {
	w := newAdminWorld(t)
	h, ctx := w.h, context.Background()
	a := core.TenantAdmin(w.admin)
	r, err := h.svcs.Roles.Create(ctx, a, "reports:read", "Reads reports", meta())
	if err != nil || r.Name != "reports:read" || r.Builtin || r.CreatedAt.IsZero() {
		t.Fatalf("create: %+v %v", r, err)
	}
	for _, tc := range []struct {
		name, role, desc string
		code             core.Code
	}{
		{"duplicate", "reports:read", "", core.ECONFLICT},
		{"admin exists", "admin", "", core.ECONFLICT},
		{"bad name", "Reports", "", core.EINVALID},
		{"too long", strings.Repeat("a", 65), "", core.EINVALID},
		{"description too long", "x", strings.Repeat("d", 201), core.EINVALID},
		{"description with a control", "x", "a\nb", core.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svcs.Roles.Create(ctx, a, tc.role, tc.desc, meta())
			wantCode(t, err, tc.code)
		})
	}
	roles, err := h.svcs.Roles.List(ctx, a, meta())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range roles {
		got = append(got, fmt.Sprintf("%s:%d:%v", r.Name, r.Holders, r.Builtin))
	}
	if want := []string{"admin:1:true", "member:1:false", "reports:read:0:false"}; !slices.Equal(got, want) {
		t.Fatalf("catalogue %v, want %v", got, want)
	}

	err = h.svcs.Roles.Delete(ctx, a, "admin", meta())
	wantCode(t, err, core.ECONFLICT)
	err = h.svcs.Roles.Delete(ctx, a, "member", meta())
	wantCode(t, err, core.ECONFLICT)
	if !strings.Contains(core.ErrorMessage(err), "1 user holds it") {
		t.Fatalf("in-use message %q does not give the count", core.ErrorMessage(err))
	}
	wantCode(t, h.svcs.Roles.Delete(ctx, a, "ghost", meta()), core.ENOTFOUND)
	if err := h.svcs.Roles.Delete(ctx, a, "reports:read", meta()); err != nil {
		t.Fatal(err)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event IN ('role_create', 'role_delete') AND reason = 'reports:read' AND actor = $1`, w.admin.User.ID.String()); n != 2 {
		t.Fatalf("%d role rows with the admin as actor, want 2", n)
	}

	// Grants racing deletes: whichever wins, nobody holds a role the
	// catalogue lacks.
	for i := range 8 {
		role := fmt.Sprintf("temp%d", i)
		if _, err := h.svcs.Roles.Create(ctx, core.Operator(""), role, "", meta()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var grantErr, deleteErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, grantErr = h.svcs.Admin.UpdateUser(ctx, a, core.ByID(w.memberID), core.UserInput{Roles: &[]string{"member", role}}, meta())
		}()
		go func() { defer wg.Done(); deleteErr = h.svcs.Roles.Delete(ctx, a, role, meta()) }()
		wg.Wait()
		if (grantErr == nil) == (deleteErr == nil) {
			t.Fatalf("race %d: grant %v, delete %v: exactly one must win", i, grantErr, deleteErr)
		}
		if n := h.count(`SELECT count(*) FROM users u WHERE EXISTS (SELECT 1 FROM unnest(u.roles) r
			WHERE NOT EXISTS (SELECT 1 FROM roles c WHERE c.tenant_id = u.tenant_id AND c.name = r))`); n != 0 {
			t.Fatalf("race %d: %d users hold a role outside the catalogue", i, n)
		}
		if grantErr == nil {
			if _, err := h.svcs.Admin.UpdateUser(ctx, a, core.ByID(w.memberID), core.UserInput{Roles: &[]string{"member"}}, meta()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// New tenants come with admin.
	if _, err := h.svcs.Tenants.Create(ctx, "fresh", "", meta()); err != nil {
		t.Fatal(err)
	}
	roles, err = h.svcs.Roles.List(ctx, core.Operator("fresh"), meta())
	if err != nil || len(roles) != 1 || roles[0].Name != "admin" || !roles[0].Builtin || roles[0].Description == "" {
		t.Fatalf("fresh tenant's catalogue %+v %v", roles, err)
	}
	_, err = h.svcs.Roles.List(ctx, core.Operator("nope"), meta())
	wantCode(t, err, core.ENOTFOUND)
}

// TestAdminUsersPages: cursor pages return every user once, in order, with
// filters, even while users are added behind and ahead of the cursor.
func TestAdminUsersPages(t *testing.T) {
	w := newAdminWorld(t)
	h, ctx := w.h, context.Background()
	a := core.TenantAdmin(w.admin)
	for i := range 23 {
		in := core.CreateInput{Email: fmt.Sprintf("u%02d@example.com", i), Roles: []string{"member"}}
		if i%2 == 0 {
			in.Password = testPassword
			in.Roles = nil
		}
		if _, err := h.svcs.Admin.CreateUser(ctx, core.Operator(""), in, meta()); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(q core.UserQuery, during func(page int)) []string {
		t.Helper()
		var out []string
		for page := 0; ; page++ {
			p, err := h.svcs.Admin.Users(ctx, a, q, meta())
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Users) > q.Limit {
				t.Fatalf("page of %d, limit %d", len(p.Users), q.Limit)
			}
			for _, u := range p.Users {
				out = append(out, u.Email)
			}
			if during != nil {
				during(page)
			}
			if p.Next == "" {
				return out
			}
			q.Cursor = p.Next
		}
	}
	all := walk(core.UserQuery{Limit: 5}, func(page int) {
		if page == 1 {
			// One before the cursor (not seen), one after it (seen).
			for _, e := range []string{"a00@example.com", "zz@example.com"} {
				if _, err := h.svcs.Admin.CreateUser(ctx, core.Operator(""), core.CreateInput{Email: e}, meta()); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if len(all) != 3+23+1 || !slices.IsSorted(all) || slices.Contains(all, "a00@example.com") || all[len(all)-1] != "zz@example.com" {
		t.Fatalf("walk: %d users %v", len(all), all)
	}
	if got := walk(core.UserQuery{Limit: 200}, nil); len(got) != 3+23+2 {
		t.Fatalf("one page of 200: %d", len(got))
	}
	if got := walk(core.UserQuery{Limit: 3, Status: "pending", Role: "member", EmailPrefix: " U1"}, nil); !slices.Equal(got,
		[]string{"u11@example.com", "u13@example.com", "u15@example.com", "u17@example.com", "u19@example.com"}) {
		t.Fatalf("filtered walk: %v", got)
	}
	exact := walk(core.UserQuery{Limit: 1, EmailPrefix: "admin"}, nil)
	if !slices.Equal(exact, []string{"admin@example.com"}) {
		t.Fatalf("a last page that is full: %v", exact)
	}
	for _, q := range []core.UserQuery{
		{Limit: 201}, {Limit: -1}, {Status: "gone"}, {Role: "Bad Role"}, {Cursor: "%%%"}, {Cursor: "bm90IGpzb24"},
		{EmailPrefix: strings.Repeat("a", 321)}, {EmailPrefix: "a\u200bb"},
	} {
		_, err := h.svcs.Admin.Users(ctx, a, q, meta())
		wantCode(t, err, core.EINVALID)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'admin_read' AND reason = 'users.list' AND actor = $1`, w.admin.User.ID.String()); n < 8 {
		t.Fatalf("%d users.list reads audited", n)
	}
}

// TestAdminUserActions: status changes, unlock, invites and sessions, each
// audited with its actor.
func TestAdminUserActions(t *testing.T) {
	w := newAdminWorld(t)
	h, ctx := w.h, context.Background()
	a := core.TenantAdmin(w.admin)
	actor := w.admin.User.ID.String()
	ref := core.ByID(w.memberID)
	live := h.mustLogin("member@example.com")

	sessions, err := h.svcs.Admin.Sessions(ctx, a, ref, meta())
	if err != nil || len(sessions) != 2 { // the world's login and this one
		t.Fatalf("sessions %+v %v", sessions, err)
	}
	res, err := h.svcs.Admin.RevokeSessions(ctx, a, ref, sessions[0].ID.String(), meta())
	if err != nil || res.Revoked != 1 {
		t.Fatalf("revoke one: %+v %v", res, err)
	}
	// A session of another user, or no UUID: refused.
	_, err = h.svcs.Admin.RevokeSessions(ctx, a, ref, w.admin.Session.ID.String(), meta())
	wantCode(t, err, core.ENOTFOUND)
	_, err = h.svcs.Admin.RevokeSessions(ctx, a, ref, "nope", meta())
	wantCode(t, err, core.EINVALID)
	res, err = h.svcs.Admin.RevokeSessions(ctx, a, ref, "", meta())
	if err != nil || res.Revoked != 1 {
		t.Fatalf("revoke all: %+v %v", res, err)
	}
	if _, err := h.refresh(live.RefreshToken); core.ErrorCode(err) != core.EDENIED {
		t.Fatalf("refresh after revoke: %v", err)
	}

	live = h.mustLogin("member@example.com")
	v, err := h.svcs.Admin.Disable(ctx, a, ref, meta())
	if err != nil || v.Status != core.UserDisabled {
		t.Fatalf("disable: %+v %v", v, err)
	}
	if _, err := h.refresh(live.RefreshToken); core.ErrorCode(err) != core.EDENIED {
		t.Fatalf("refresh after disable: %v", err)
	}
	if v, err = h.svcs.Admin.Enable(ctx, a, ref, meta()); err != nil || v.Status != core.UserActive {
		t.Fatalf("enable: %+v %v", v, err)
	}

	// Unlock clears a lock the reads set.
	for range h.cfg.MaxAttempts {
		_, _ = h.login("member@example.com", "wrong wrong wrong")
	}
	if _, err := h.login("member@example.com", testPassword); core.ErrorCode(err) != core.ETHROTTLED {
		t.Fatalf("not locked: %v", err)
	}
	if v, err = h.svcs.Admin.Unlock(ctx, a, ref, meta()); err != nil || v.LockedUntil != nil {
		t.Fatalf("unlock: %+v %v", v, err)
	}
	h.mustLogin("member@example.com")

	// Invites: only for pending users; a new one voids the old.
	inv, err := h.svcs.Admin.CreateUser(ctx, a, core.CreateInput{Email: "Invitee@Example.com", DisplayName: "In Vitee", Roles: []string{"member"}}, meta())
	if err != nil || inv.Status != core.UserPending || inv.Email != "invitee@example.com" || inv.PasswordChangeRequired {
		t.Fatalf("invite: %+v %v", inv, err)
	}
	_, err = h.svcs.Admin.Enable(ctx, a, core.ByID(inv.ID), meta())
	wantCode(t, err, core.ECONFLICT)
	if _, err := h.svcs.Admin.ResendInvite(ctx, a, core.ByID(inv.ID), meta()); err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, m := range h.mails() {
		if m.To == "invitee@example.com" && m.Kind == core.MailInvite {
			links = append(links, m.URL)
		}
	}
	if len(links) != 2 {
		t.Fatalf("invite mails %v", links)
	}
	tok := func(u string) string { return u[strings.Index(u, "token=")+6:] }
	if err := h.svcs.Resets.Complete(ctx, tok(links[0]), "a first passphrase here", meta()); core.ErrorCode(err) != core.EDENIED {
		t.Fatalf("the older invite still works: %v", err)
	}
	if err := h.svcs.Resets.Complete(ctx, tok(links[1]), "a first passphrase here", meta()); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Admin.ResendInvite(ctx, a, core.ByID(inv.ID), meta())
	wantCode(t, err, core.ECONFLICT)

	detail, err := h.svcs.Admin.UserDetail(ctx, a, core.ByID(inv.ID), meta())
	if err != nil || detail.User.EmailVerifiedAt == nil || len(detail.Events) == 0 {
		t.Fatalf("detail %+v %v", detail, err)
	}
	for _, e := range detail.Events {
		if e.SubjectEmail != "invitee@example.com" {
			t.Fatalf("detail shows an event about %q", e.SubjectEmail)
		}
	}

	for _, tc := range []struct{ event, reason string }{
		{core.EventSessionsRevoke, "session"}, {core.EventSessionsRevoke, "user"},
		{core.EventUserDisable, ""}, {core.EventUserEnable, ""}, {core.EventAccountUnlocked, "admin"},
		{core.EventUserCreate, ""}, {core.EventUserInvite, "resend"},
		{core.EventAdminRead, "user.sessions"}, {core.EventAdminRead, "user.get"},
	} {
		if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = $1 AND reason = $2 AND actor = $3 AND outcome = 'success'`,
			tc.event, tc.reason, actor); n == 0 {
			t.Errorf("no %s/%s row with the admin as actor", tc.event, tc.reason)
		}
	}
	settings, err := h.svcs.Admin.Tenant(ctx, a, meta())
	if err != nil || settings.Slug != "default" || settings.Policies.PasswordMinLength != 12 || settings.Policies.InviteTTL != 7*24*3600 {
		t.Fatalf("settings %+v %v", settings, err)
	}
}

// TestAdminAuditPages: the tenant's events newest first, filtered, in
// pages that don't repeat or skip rows.
func TestAdminAuditPages(t *testing.T) {
	w := newAdminWorld(t)
	h, ctx := w.h, context.Background()
	a := core.TenantAdmin(w.admin)
	start := h.clock.Now().Truncate(time.Microsecond) // as core stamps rows
	for range 12 {
		h.clock.Advance(time.Second)
		if _, err := h.svcs.Admin.User(ctx, a, core.ByID(w.memberID), meta()); err != nil {
			t.Fatal(err)
		}
	}
	mid := h.clock.Now().Truncate(time.Microsecond)
	for range 3 {
		h.clock.Advance(time.Second)
		h.mustLogin("plain@example.com")
	}
	walk := func(q core.AuditPageQuery) []core.AuditEvent {
		t.Helper()
		var out []core.AuditEvent
		for {
			p, err := h.svcs.Admin.Audit(ctx, a, q, meta())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p.Events...)
			if p.Next == "" {
				return out
			}
			q.Cursor = p.Next
		}
	}
	reads := walk(core.AuditPageQuery{Event: core.EventAdminRead, UserID: w.memberID, Limit: 5})
	if len(reads) != 12 {
		t.Fatalf("%d reads of the member, want 12", len(reads))
	}
	ids := map[int64]bool{}
	for i, e := range reads {
		if ids[e.ID] || e.SubjectEmail != "member@example.com" || e.Event != core.EventAdminRead {
			t.Fatalf("row %d: %+v (repeated or off-filter)", i, e)
		}
		ids[e.ID] = true
		if i > 0 && e.Time.After(reads[i-1].Time) {
			t.Fatal("not newest first")
		}
	}
	if got := walk(core.AuditPageQuery{Event: core.EventAdminRead, UserID: w.memberID, Since: start, Until: mid.Add(-5 * time.Second), Limit: 4}); len(got) != 6 {
		t.Fatalf("time range: %d rows, want 6 (until is exclusive)", len(got))
	}
	if got := walk(core.AuditPageQuery{Event: core.EventLoginSuccess, Since: mid}); len(got) != 3 {
		t.Fatalf("since: %d", len(got))
	}
	for _, e := range walk(core.AuditPageQuery{HideReads: true, Limit: 200}) {
		if e.Event == core.EventAdminRead {
			t.Fatal("HideReads shows a read")
		}
	}
	for _, q := range []core.AuditPageQuery{
		{Event: "Login Failure"}, {Since: mid, Until: start}, {Cursor: "x"}, {Limit: 500}, {UserID: "nope"},
	} {
		_, err := h.svcs.Admin.Audit(ctx, a, q, meta())
		wantCode(t, err, core.EINVALID)
	}
}
