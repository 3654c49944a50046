package postgres_test

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/testenv"
)

var ctx = context.Background()

func TestTenants(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)

	b := mustTenant(t, s, "beta")
	if b.ID == uuid.Nil || b.CreatedAt.IsZero() || b.Status != core.TenantActive || b.Name != "BETA" {
		t.Fatalf("CreateTenant filled %+v", b)
	}
	if b.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt in %v, want UTC", b.CreatedAt.Location())
	}
	id := uuid.New()
	a := core.Tenant{ID: id, Slug: "alpha", Status: core.TenantDisabled, CreatedAt: at(0)}
	ok(t, s.CreateTenant(ctx, &a))
	if a.ID != id || !a.CreatedAt.Equal(at(0)) || a.Status != core.TenantDisabled {
		t.Fatalf("CreateTenant kept %+v", a)
	}

	got, err := s.TenantBySlug(ctx, "beta")
	ok(t, err)
	if got != b {
		t.Fatalf("TenantBySlug = %+v, want %+v", got, b)
	}
	_, err = s.TenantBySlug(ctx, "nope")
	wantCode(t, err, core.ENOTFOUND)
	wantMessage(t, err, "tenant not found")

	list, err := s.ListTenants(ctx)
	ok(t, err)
	if len(list) != 2 || list[0].Slug != "alpha" || list[1].Slug != "beta" {
		t.Fatalf("ListTenants = %+v", list)
	}

	ok(t, s.SetTenantStatus(ctx, b.ID, core.TenantDisabled))
	got, err = s.TenantBySlug(ctx, "beta")
	ok(t, err)
	if got.Status != core.TenantDisabled {
		t.Fatalf("status = %q after SetTenantStatus", got.Status)
	}
	wantCode(t, s.SetTenantStatus(ctx, uuid.New(), core.TenantActive), core.ENOTFOUND)
	wantCode(t, s.SetTenantStatus(ctx, b.ID, "bogus"), core.EINVALID)

	for _, tc := range []struct {
		slug string
		code core.Code
	}{
		{"ok-1", ""},
		{strings.Repeat("a", 63), ""},
		{"beta", core.ECONFLICT},
		{"", core.EINVALID},
		{"Upper", core.EINVALID},
		{"under_score", core.EINVALID},
		{"sp ace", core.EINVALID},
		{strings.Repeat("a", 64), core.EINVALID},
		{"nul\x00", core.EINVALID},
	} {
		err := s.CreateTenant(ctx, &core.Tenant{Slug: tc.slug})
		if got := core.ErrorCode(err); got != tc.code {
			t.Errorf("CreateTenant(%q) = %q (%v), want %q", tc.slug, got, err, tc.code)
		}
	}
	wantMessage(t, s.CreateTenant(ctx, &core.Tenant{Slug: "beta"}), "tenant already exists")
}

func TestUsers(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	acme := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "other")

	exp := at(30)
	u := core.User{
		TenantID: acme.ID, Email: "ann@example.com", PasswordHash: "$2a$12$x", Status: core.UserActive,
		Roles: []string{core.RoleAdmin, "ops"}, DisplayName: "Ann", MustChangePassword: true,
		PasswordExpiresAt: &exp, Seeded: true,
	}
	ok(t, s.CreateUser(ctx, &u))
	if u.ID == uuid.Nil || u.CreatedAt.IsZero() || !u.UpdatedAt.Equal(u.CreatedAt) ||
		u.TenantSlug != "acme" || u.TenantStatus != core.TenantActive {
		t.Fatalf("CreateUser filled %+v", u)
	}

	got, err := s.UserByEmail(ctx, "acme", "ANN@Example.COM")
	ok(t, err)
	want := u
	if !equalUser(got, want) {
		t.Fatalf("UserByEmail =\n%+v\nwant\n%+v", got, want)
	}
	got, err = s.UserByID(ctx, u.ID)
	ok(t, err)
	if !equalUser(got, want) {
		t.Fatalf("UserByID = %+v", got)
	}

	// A pending user: no hash, no roles, no display name, default status.
	p := core.User{TenantID: acme.ID, Email: "pat@example.com"}
	ok(t, s.CreateUser(ctx, &p))
	if p.Status != core.UserActive || p.Roles == nil {
		t.Fatalf("CreateUser defaults: %+v", p)
	}
	p2 := mustUser(t, s, acme.ID, "pending@example.com", func(u *core.User) { u.PasswordHash = ""; u.Status = core.UserPending; u.Roles = nil })
	got, err = s.UserByID(ctx, p2.ID)
	ok(t, err)
	if got.PasswordHash != "" || got.Status != core.UserPending || got.Roles == nil || len(got.Roles) != 0 ||
		got.DisplayName != "" || got.PasswordExpiresAt != nil || got.LastLoginAt != nil || got.LockedUntil != nil {
		t.Fatalf("pending user = %+v", got)
	}

	for _, tc := range []struct {
		name string
		user core.User
		code core.Code
	}{
		{"same email other case", core.User{TenantID: acme.ID, Email: "Ann@Example.com"}, core.ECONFLICT},
		{"same email other tenant", core.User{TenantID: other.ID, Email: "ann@example.com"}, ""},
		{"bogus status", core.User{TenantID: acme.ID, Email: "x@example.com", Status: "bogus"}, core.EINVALID},
		{"empty email", core.User{TenantID: acme.ID, Email: ""}, core.EINVALID},
		{"unknown tenant", core.User{TenantID: uuid.New(), Email: "y@example.com"}, core.EINVALID},
		{"display name too long", core.User{TenantID: acme.ID, Email: "z@example.com", DisplayName: strings.Repeat("n", 201)}, core.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user
			err := s.CreateUser(ctx, &u)
			wantCode(t, err, tc.code)
			if tc.code == core.ECONFLICT {
				wantMessage(t, err, "user already exists")
			}
		})
	}
	// The failed CTE left no half-written user behind.
	if _, err := s.UserByEmail(ctx, "acme", "z@example.com"); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("user with a rejected profile exists: %v", err)
	}

	for _, tc := range []struct{ tenant, email string }{
		{"acme", "nobody@example.com"},
		{"nope", "ann@example.com"},
		{"other", "pat@example.com"},
	} {
		_, err := s.UserByEmail(ctx, tc.tenant, tc.email)
		wantCode(t, err, core.ENOTFOUND)
		wantMessage(t, err, "user not found")
	}
	_, err = s.UserByID(ctx, uuid.New())
	wantCode(t, err, core.ENOTFOUND)

	all, err := s.ListUsers(ctx, nil)
	ok(t, err)
	var names []string
	for _, u := range all {
		names = append(names, u.TenantSlug+"/"+u.Email)
	}
	wantNames := []string{"acme/ann@example.com", "acme/pat@example.com", "acme/pending@example.com", "other/ann@example.com"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("ListUsers(nil) = %v, want %v", names, wantNames)
	}
	some, err := s.ListUsers(ctx, &other.ID)
	ok(t, err)
	if len(some) != 1 || some[0].TenantID != other.ID {
		t.Fatalf("ListUsers(other) = %+v", some)
	}
	none, err := s.ListUsers(ctx, ptr(uuid.New()))
	ok(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("ListUsers(unknown) = %#v, want empty", none)
	}
}

// equalUser compares users with their times as instants.
func equalUser(a, b core.User) bool {
	eqp := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.ID == b.ID && a.TenantID == b.TenantID && a.TenantSlug == b.TenantSlug &&
		a.TenantStatus == b.TenantStatus && a.Email == b.Email && a.PasswordHash == b.PasswordHash &&
		a.Status == b.Status && slices.Equal(a.Roles, b.Roles) && a.DisplayName == b.DisplayName &&
		a.MustChangePassword == b.MustChangePassword && eqp(a.PasswordExpiresAt, b.PasswordExpiresAt) &&
		a.Seeded == b.Seeded && eqp(a.LockedUntil, b.LockedUntil) && a.LockLevel == b.LockLevel &&
		eqp(a.LastLoginAt, b.LastLoginAt) && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func TestAdmins(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	acme := mustTenant(t, s, "acme")
	empty := mustTenant(t, s, "empty")

	_, err := s.SeededAdmin(ctx, acme.ID)
	wantCode(t, err, core.ENOTFOUND)
	has, err := s.HasAdmin(ctx, acme.ID)
	ok(t, err)
	if has {
		t.Fatal("HasAdmin true for a tenant without users")
	}

	mustUser(t, s, acme.ID, "plain@example.com", func(u *core.User) { u.Roles = []string{"ops"} })
	has, err = s.HasAdmin(ctx, acme.ID)
	ok(t, err)
	if has {
		t.Fatal("HasAdmin true without an admin")
	}
	first := mustUser(t, s, acme.ID, "first@example.com", func(u *core.User) {
		u.Seeded, u.Roles, u.CreatedAt = true, []string{core.RoleAdmin}, at(0)
	})
	mustUser(t, s, acme.ID, "second@example.com", func(u *core.User) { u.Seeded, u.CreatedAt = true, at(5) })

	got, err := s.SeededAdmin(ctx, acme.ID)
	ok(t, err)
	if got.ID != first.ID {
		t.Fatalf("SeededAdmin = %s, want the oldest %s", got.Email, first.Email)
	}
	has, err = s.HasAdmin(ctx, acme.ID)
	ok(t, err)
	if !has {
		t.Fatal("HasAdmin false with an admin")
	}
	has, err = s.HasAdmin(ctx, empty.ID)
	ok(t, err)
	if has {
		t.Fatal("HasAdmin leaks across tenants")
	}
	_, err = s.SeededAdmin(ctx, empty.ID)
	wantCode(t, err, core.ENOTFOUND)
}

func TestUserUpdates(t *testing.T) {
	t.Parallel()
	s, db := mustStore(t)
	acme := mustTenant(t, s, "acme")
	u := mustUser(t, s, acme.ID, "ann@example.com")
	missing := uuid.New()

	load := func() core.User {
		t.Helper()
		got, err := s.UserByID(ctx, u.ID)
		ok(t, err)
		return got
	}

	ok(t, s.SetUserStatus(ctx, u.ID, core.UserDisabled))
	got := load()
	if got.Status != core.UserDisabled || !got.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("SetUserStatus: %+v", got)
	}
	wantCode(t, s.SetUserStatus(ctx, u.ID, "bogus"), core.EINVALID)

	exp := at(10)
	ok(t, s.SetPassword(ctx, u.ID, "$2a$12$new", true, &exp))
	before := got.UpdatedAt
	got = load()
	if got.PasswordHash != "$2a$12$new" || !got.MustChangePassword || got.PasswordExpiresAt == nil ||
		!got.PasswordExpiresAt.Equal(exp) || got.UpdatedAt.Before(before) {
		t.Fatalf("SetPassword: %+v", got)
	}
	ok(t, s.SetPassword(ctx, u.ID, "$2a$12$final", false, nil))
	got = load()
	if got.PasswordHash != "$2a$12$final" || got.MustChangePassword || got.PasswordExpiresAt != nil {
		t.Fatalf("SetPassword clear: %+v", got)
	}

	until := at(15)
	ok(t, s.SetUserLock(ctx, u.ID, &until, 2))
	got = load()
	if got.LockedUntil == nil || !got.LockedUntil.Equal(until) || got.LockLevel != 2 {
		t.Fatalf("SetUserLock: %+v", got)
	}
	ok(t, s.SetUserLock(ctx, u.ID, nil, 0))
	got = load()
	if got.LockedUntil != nil || got.LockLevel != 0 {
		t.Fatalf("SetUserLock clear: %+v", got)
	}

	ok(t, s.RecordLogin(ctx, u.ID, at(20), ""))
	got = load()
	if got.LastLoginAt == nil || !got.LastLoginAt.Equal(at(20)) || got.PasswordHash != "$2a$12$final" {
		t.Fatalf("RecordLogin without hash: %+v", got)
	}
	ok(t, s.RecordLogin(ctx, u.ID, at(21), "$2a$14$upgraded"))
	got = load()
	if !got.LastLoginAt.Equal(at(21)) || got.PasswordHash != "$2a$14$upgraded" {
		t.Fatalf("RecordLogin with hash: %+v", got)
	}
	if got.LastLoginAt.Location() != time.UTC {
		t.Fatalf("LastLoginAt in %v", got.LastLoginAt.Location())
	}

	for name, err := range map[string]error{
		"SetUserStatus": s.SetUserStatus(ctx, missing, core.UserActive),
		"SetPassword":   s.SetPassword(ctx, missing, "h", false, nil),
		"SetUserLock":   s.SetUserLock(ctx, missing, nil, 0),
		"RecordLogin":   s.RecordLogin(ctx, missing, at(0), ""),
	} {
		if core.ErrorCode(err) != core.ENOTFOUND || core.ErrorMessage(err) != "user not found" {
			t.Errorf("%s(missing) = %v, want ENOTFOUND", name, err)
		}
	}

	// The lookup's shape matches users_tenant_email_key: with sequential
	// scans off the planner picks it (it can't if lower() is missing).
	tx, err := db.BeginTxx(ctx, nil)
	ok(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`)
	ok(t, err)
	var plan []string
	ok(t, tx.SelectContext(ctx, &plan, `EXPLAIN SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id
		WHERE t.slug = $1 AND lower(u.email) = lower($2)`, "acme", "ANN@example.com"))
	if !strings.Contains(strings.Join(plan, "\n"), "users_tenant_email_key") {
		t.Fatalf("email lookup does not use users_tenant_email_key:\n%s", strings.Join(plan, "\n"))
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	acme := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "other")
	ann := mustUser(t, s, acme.ID, "ann@example.com", func(u *core.User) { u.DisplayName = "Ann" })
	bob := mustUser(t, s, acme.ID, "bob@example.com")
	eve := mustUser(t, s, other.ID, "eve@example.com")

	s1 := mustSession(t, s, ann, func(se *core.Session) {
		se.ClientIP, se.UserAgent, se.ClientID = "192.0.2.1", "curl/8", "cli"
	})
	if s1.ID == uuid.Nil || s1.CreatedAt.IsZero() || !s1.LastUsedAt.Equal(s1.CreatedAt) ||
		s1.RevokedAt != nil || s1.ClientIP != "192.0.2.1" || s1.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreateSession filled %+v", s1)
	}
	s2 := mustSession(t, s, ann, func(se *core.Session) { se.CreatedAt = at(0) })
	if !s2.CreatedAt.Equal(at(0)) || !s2.LastUsedAt.Equal(at(0)) {
		t.Fatalf("CreateSession with CreatedAt: %+v", s2)
	}
	s3 := mustSession(t, s, ann, func(se *core.Session) { se.CreatedAt, se.LastUsedAt = at(0), at(1) })
	if !s3.LastUsedAt.Equal(at(1)) {
		t.Fatalf("CreateSession with LastUsedAt: %+v", s3)
	}
	sb := mustSession(t, s, bob)
	se := mustSession(t, s, eve)

	dup := core.Session{ID: s1.ID, UserID: ann.ID, TenantID: acme.ID, ExpiresAt: at(1), IdleExpiresAt: at(1)}
	wantCode(t, s.CreateSession(ctx, &dup), core.ECONFLICT)
	wantCode(t, s.CreateSession(ctx, &core.Session{UserID: uuid.New(), TenantID: acme.ID, ExpiresAt: at(1), IdleExpiresAt: at(1)}), core.EINVALID)

	got, err := s.SessionByID(ctx, s1.ID)
	ok(t, err)
	if got != s1 {
		t.Fatalf("SessionByID =\n%+v\nwant\n%+v", got, s1)
	}
	_, err = s.SessionByID(ctx, uuid.New())
	wantCode(t, err, core.ENOTFOUND)
	wantMessage(t, err, "session not found")

	u, gs, err := s.UserBySession(ctx, s1.ID)
	ok(t, err)
	if !equalUser(u, ann) || gs != s1 {
		t.Fatalf("UserBySession = %+v, %+v", u, gs)
	}
	_, _, err = s.UserBySession(ctx, uuid.New())
	wantCode(t, err, core.ENOTFOUND)
	wantMessage(t, err, "session not found")

	// Revocation: counts only live sessions and keeps the first reason.
	n, err := s.RevokeSession(ctx, s1.ID, "logout", at(2))
	ok(t, err)
	if n != 1 {
		t.Fatalf("RevokeSession = %d, want 1", n)
	}
	n, err = s.RevokeSession(ctx, s1.ID, "again", at(3))
	ok(t, err)
	if n != 0 {
		t.Fatalf("second RevokeSession = %d, want 0", n)
	}
	n, err = s.RevokeSession(ctx, uuid.New(), "x", at(3))
	ok(t, err)
	if n != 0 {
		t.Fatalf("RevokeSession(unknown) = %d", n)
	}
	got, err = s.SessionByID(ctx, s1.ID)
	ok(t, err)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at(2)) || got.RevokedReason != "logout" || got.ActiveAt(at(0)) {
		t.Fatalf("revoked session = %+v", got)
	}

	n, err = s.RevokeUserSessions(ctx, ann.ID, &s2.ID, "password_change", at(4))
	ok(t, err)
	if n != 1 {
		t.Fatalf("RevokeUserSessions(except s2) = %d, want 1 (s3)", n)
	}
	if got, _ := s.SessionByID(ctx, s2.ID); got.RevokedAt != nil {
		t.Fatal("the excepted session was revoked")
	}
	n, err = s.RevokeUserSessions(ctx, ann.ID, nil, "disable", at(5))
	ok(t, err)
	if n != 1 {
		t.Fatalf("RevokeUserSessions(nil) = %d, want 1 (s2)", n)
	}
	if got, _ := s.SessionByID(ctx, s3.ID); got.RevokedReason != "password_change" {
		t.Fatalf("s3 reason = %q", got.RevokedReason)
	}

	n, err = s.RevokeTenantSessions(ctx, acme.ID, "tenant_disable", at(6))
	ok(t, err)
	if n != 1 {
		t.Fatalf("RevokeTenantSessions = %d, want 1 (bob's)", n)
	}
	if got, _ := s.SessionByID(ctx, sb.ID); got.RevokedReason != "tenant_disable" {
		t.Fatalf("bob's session = %+v", got)
	}
	if got, _ := s.SessionByID(ctx, se.ID); got.RevokedAt != nil {
		t.Fatal("another tenant's session was revoked")
	}
}

func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	acme := mustTenant(t, s, "acme")
	ann := mustUser(t, s, acme.ID, "ann@example.com", func(u *core.User) { u.DisplayName = "Ann"; u.Roles = []string{"admin"} })
	bob := mustUser(t, s, acme.ID, "bob@example.com")
	se := mustSession(t, s, ann)

	r0 := mustRefresh(t, s, se, "r0", nil)
	if r0.ID == uuid.Nil || r0.CreatedAt.IsZero() || r0.ParentID != nil || r0.SpentAt != nil || r0.Replay != nil {
		t.Fatalf("CreateRefreshToken filled %+v", r0)
	}
	wantCode(t, s.CreateRefreshToken(ctx, &core.RefreshToken{SessionID: se.ID, Hash: hash("r0"), ExpiresAt: at(1)}), core.ECONFLICT)
	wantCode(t, s.CreateRefreshToken(ctx, &core.RefreshToken{SessionID: se.ID, Hash: []byte("short"), ExpiresAt: at(1)}), core.EINVALID)
	wantCode(t, s.CreateRefreshToken(ctx, &core.RefreshToken{SessionID: uuid.New(), Hash: hash("x"), ExpiresAt: at(1)}), core.EINVALID)

	gt, gs, err := s.RefreshTokenByHash(ctx, hash("r0"))
	ok(t, err)
	if gt.ID != r0.ID || !slices.Equal(gt.Hash, hash("r0")) || gs.ID != se.ID || gt.SpentAt != nil {
		t.Fatalf("RefreshTokenByHash = %+v, %+v", gt, gs)
	}
	_, _, err = s.RefreshTokenByHash(ctx, hash("unknown"))
	wantCode(t, err, core.ENOTFOUND)
	wantMessage(t, err, "refresh token not found")

	// Spend once, then never again.
	spent, ss, su, err := s.SpendRefreshToken(ctx, hash("r0"), at(1))
	ok(t, err)
	if spent.ID != r0.ID || spent.SpentAt == nil || !spent.SpentAt.Equal(at(1)) || spent.SpentAt.Location() != time.UTC {
		t.Fatalf("spent token = %+v", spent)
	}
	if ss != se {
		t.Fatalf("spent session =\n%+v\nwant\n%+v", ss, se)
	}
	if !equalUser(su, ann) {
		t.Fatalf("spent user =\n%+v\nwant\n%+v", su, ann)
	}
	_, _, _, err = s.SpendRefreshToken(ctx, hash("r0"), at(2))
	wantCode(t, err, core.ENOTFOUND)
	wantMessage(t, err, "refresh token not found")
	_, _, _, err = s.SpendRefreshToken(ctx, hash("unknown"), at(2))
	wantCode(t, err, core.ENOTFOUND)

	// A user without a profile row spends with an empty display name.
	bs := mustSession(t, s, bob)
	mustRefresh(t, s, bs, "b0", nil)
	_, _, bu, err := s.SpendRefreshToken(ctx, hash("b0"), at(1))
	ok(t, err)
	if bu.DisplayName != "" || bu.ID != bob.ID {
		t.Fatalf("spent bob = %+v", bu)
	}

	// Rotation: child stored, replay on the parent, session moved.
	child := core.RefreshToken{SessionID: se.ID, ParentID: &r0.ID, Hash: hash("r1"), ExpiresAt: at(600)}
	rotEvent := &core.AuditEvent{Event: core.EventRefresh, Outcome: core.OutcomeSuccess, SessionID: &se.ID, SubjectEmail: "x@y.z"}
	ok(t, s.StoreRotation(ctx, &child, []byte("sealed pair"), at(3), at(63), rotEvent))
	if child.ID == uuid.Nil || child.CreatedAt.IsZero() || rotEvent.ID == 0 || rotEvent.Time.IsZero() {
		t.Fatalf("StoreRotation filled %+v and %+v", child, rotEvent)
	}
	events, err := s.ListAuditEvents(ctx, core.AuditFilter{Email: "x@y.z", Limit: 10})
	ok(t, err)
	if len(events) != 1 || events[0].Event != core.EventRefresh || *events[0].SessionID != se.ID {
		t.Fatalf("rotation audit rows = %+v", events)
	}
	parent, _, err := s.RefreshTokenByHash(ctx, hash("r0"))
	ok(t, err)
	if string(parent.Replay) != "sealed pair" || parent.SpentAt == nil {
		t.Fatalf("parent after rotation = %+v", parent)
	}
	gotChild, gs, err := s.RefreshTokenByHash(ctx, hash("r1"))
	ok(t, err)
	if gotChild.ID != child.ID || gotChild.ParentID == nil || *gotChild.ParentID != r0.ID ||
		!gotChild.ExpiresAt.Equal(at(600)) || gotChild.SpentAt != nil || gotChild.Replay != nil {
		t.Fatalf("child = %+v", gotChild)
	}
	if !gs.LastUsedAt.Equal(at(3)) || !gs.IdleExpiresAt.Equal(at(63)) || !gs.ExpiresAt.Equal(se.ExpiresAt) {
		t.Fatalf("session after rotation = %+v", gs)
	}

	// The family never branches: a second child of r0 conflicts and changes
	// nothing (the statement is atomic).
	second := core.RefreshToken{SessionID: se.ID, ParentID: &r0.ID, Hash: hash("r1b"), ExpiresAt: at(600), CreatedAt: at(4)}
	err = s.StoreRotation(ctx, &second, []byte("other pair"), at(4), at(64), &core.AuditEvent{Event: core.EventRefresh, Outcome: core.OutcomeSuccess, SubjectEmail: "x@y.z"})
	wantCode(t, err, core.ECONFLICT)
	parent, gs, err = s.RefreshTokenByHash(ctx, hash("r0"))
	ok(t, err)
	if string(parent.Replay) != "sealed pair" || !gs.LastUsedAt.Equal(at(3)) {
		t.Fatalf("failed rotation changed state: %+v %+v", parent, gs)
	}
	_, _, err = s.RefreshTokenByHash(ctx, hash("r1b"))
	wantCode(t, err, core.ENOTFOUND)
	if events, _ := s.ListAuditEvents(ctx, core.AuditFilter{Email: "x@y.z", Limit: 10}); len(events) != 1 {
		t.Fatalf("a failed rotation wrote an audit row: %d rows", len(events))
	}

	// A rotation naming an unknown (or revoked) session matches no live
	// session and writes nothing.
	orphan := core.RefreshToken{SessionID: uuid.New(), ParentID: &child.ID, Hash: hash("r2"), ExpiresAt: at(600)}
	wantCode(t, s.StoreRotation(ctx, &orphan, nil, at(4), at(64), &core.AuditEvent{Event: core.EventRefresh, Outcome: core.OutcomeSuccess}), core.ENOTFOUND)

	// A token created with every field set keeps them.
	full := core.RefreshToken{ID: uuid.New(), SessionID: se.ID, Hash: hash("full"), CreatedAt: at(0),
		ExpiresAt: at(9), SpentAt: ptr(at(1)), Replay: []byte{1, 2}}
	ok(t, s.CreateRefreshToken(ctx, &full))
	if !full.CreatedAt.Equal(at(0)) || full.SpentAt == nil || !full.SpentAt.Equal(at(1)) || len(full.Replay) != 2 {
		t.Fatalf("CreateRefreshToken kept %+v", full)
	}
}

func TestSpendRefreshTokenConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	acme := mustTenant(t, s, "acme")
	se := mustSession(t, s, mustUser(t, s, acme.ID, "ann@example.com"))
	mustRefresh(t, s, se, "hot", nil)

	codes := race(50, func() error {
		_, _, _, err := s.SpendRefreshToken(ctx, hash("hot"), at(1))
		return err
	})
	if codes[""] != 1 || codes[core.ENOTFOUND] != 49 {
		t.Fatalf("50 concurrent spends: %v, want one success and 49 not found", codes)
	}
}

// race runs fn n times at once, released together, and counts the codes.
func race(n int, fn func() error) map[core.Code]int {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
		codes = map[core.Code]int{}
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn()
			mu.Lock()
			codes[core.ErrorCode(err)]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

func TestResetTokens(t *testing.T) {
	t.Parallel()
	s, db := mustStore(t)
	acme := mustTenant(t, s, "acme")
	ann := mustUser(t, s, acme.ID, "ann@example.com")
	bob := mustUser(t, s, acme.ID, "bob@example.com")
	now := at(0)

	create := func(u core.User, token string, expires time.Time) core.ResetToken {
		t.Helper()
		rt := core.ResetToken{UserID: u.ID, Hash: hash(token), ExpiresAt: expires}
		ok(t, s.CreateResetToken(ctx, &rt))
		return rt
	}
	live := create(ann, "live", now.Add(30*time.Minute))
	if live.ID == uuid.Nil || live.CreatedAt.IsZero() || live.UsedAt != nil {
		t.Fatalf("CreateResetToken filled %+v", live)
	}
	wantCode(t, s.CreateResetToken(ctx, &core.ResetToken{UserID: ann.ID, Hash: hash("live"), ExpiresAt: now}), core.ECONFLICT)
	wantCode(t, s.CreateResetToken(ctx, &core.ResetToken{UserID: uuid.New(), Hash: hash("x"), ExpiresAt: now}), core.EINVALID)
	create(ann, "expired", now.Add(-time.Second))
	create(ann, "edge", now) // expires_at > now is strict
	create(ann, "voided", now.Add(time.Hour))
	used := core.ResetToken{UserID: ann.ID, Hash: hash("used"), CreatedAt: at(-5), ExpiresAt: now.Add(time.Hour), UsedAt: ptr(at(-1))}
	ok(t, s.CreateResetToken(ctx, &used))
	if !used.CreatedAt.Equal(at(-5)) || used.UsedAt == nil {
		t.Fatalf("CreateResetToken kept %+v", used)
	}

	got, err := s.UseResetToken(ctx, hash("live"), now)
	ok(t, err)
	if got.ID != live.ID || got.UserID != ann.ID || got.UsedAt == nil || !got.UsedAt.Equal(now) || !got.ExpiresAt.Equal(live.ExpiresAt) {
		t.Fatalf("UseResetToken = %+v", got)
	}

	// Void: ann's remaining live tokens die, bob's survive, used ones stay used.
	bobs := create(bob, "bob", now.Add(time.Hour))
	ok(t, s.VoidResetTokens(ctx, ann.ID, "", now))
	ok(t, s.VoidResetTokens(ctx, uuid.New(), "", now))

	for _, token := range []string{"live", "expired", "edge", "voided", "used", "unknown"} {
		_, err := s.UseResetToken(ctx, hash(token), now)
		wantCode(t, err, core.ENOTFOUND)
		wantMessage(t, err, "reset token not found")
	}
	got, err = s.UseResetToken(ctx, hash("bob"), now)
	ok(t, err)
	if got.ID != bobs.ID {
		t.Fatalf("bob's token = %+v", got)
	}

	// Voiding hit ann's three unused tokens, not the used ones nor bob's.
	var voided []string
	ok(t, db.SelectContext(ctx, &voided, `SELECT encode(token_hash, 'hex') FROM password_reset_tokens
		WHERE voided_at IS NOT NULL ORDER BY 1`))
	wantVoided := []string{}
	for _, tok := range []string{"expired", "edge", "voided"} {
		wantVoided = append(wantVoided, fmt.Sprintf("%x", hash(tok)))
	}
	slices.Sort(wantVoided)
	if !slices.Equal(voided, wantVoided) {
		t.Fatalf("voided %v, want %v", voided, wantVoided)
	}

	create(ann, "race", now.Add(time.Hour))
	codes := race(20, func() error {
		_, err := s.UseResetToken(ctx, hash("race"), now)
		return err
	})
	if codes[""] != 1 || codes[core.ENOTFOUND] != 19 {
		t.Fatalf("20 concurrent uses: %v, want one success", codes)
	}
}

func key(kid string, state core.KeyState) core.SigningKey {
	pub := make([]byte, 32)
	copy(pub, kid)
	return core.SigningKey{Alg: core.AlgEdDSA, KID: kid, State: state, Public: pub, PrivateSealed: []byte("sealed-" + kid)}
}

// rsaKey is an RS256 row: the store checks the size of the public key
// (PKCS #1 DER), not its content.
func rsaKey(kid string, state core.KeyState) core.SigningKey {
	pub := make([]byte, 398)
	copy(pub, kid)
	return core.SigningKey{Alg: core.AlgRS256, KID: kid, State: state, Public: pub, PrivateSealed: []byte("sealed-" + kid)}
}

func TestSigningKeys(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)

	keys, err := s.ListSigningKeys(ctx)
	ok(t, err)
	if keys == nil || len(keys) != 0 {
		t.Fatalf("ListSigningKeys on empty = %#v", keys)
	}

	a := key("k-a", core.KeyActive)
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	a.CreatedAt, a.ActivatedAt = past, ptr(at(1))
	ok(t, s.InsertSigningKey(ctx, &a))
	n := key("k-n", core.KeyNext)
	ok(t, s.InsertSigningKey(ctx, &n))
	if n.CreatedAt.IsZero() || !a.CreatedAt.Equal(past) {
		t.Fatalf("InsertSigningKey created_at: %v %v", a.CreatedAt, n.CreatedAt)
	}

	for _, tc := range []struct {
		name string
		k    core.SigningKey
		code core.Code
	}{
		{"duplicate kid", key("k-a", core.KeyRetired), core.ECONFLICT},
		{"second active", key("k-a2", core.KeyActive), core.ECONFLICT},
		{"second next", key("k-n2", core.KeyNext), core.ECONFLICT},
		{"retired ok", key("k-r", core.KeyRetired), ""},
		{"bad state", key("k-x", "bogus"), core.EINVALID},
		{"short public key", core.SigningKey{Alg: core.AlgEdDSA, KID: "k-y", State: core.KeyRetired, Public: []byte{1}, PrivateSealed: []byte{1}}, core.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.k
			wantCode(t, s.InsertSigningKey(ctx, &k), tc.code)
		})
	}

	keys, err = s.ListSigningKeys(ctx)
	ok(t, err)
	if len(keys) != 3 || keys[0].KID != "k-a" {
		t.Fatalf("ListSigningKeys = %+v", keys)
	}
	k0 := keys[0]
	if k0.State != core.KeyActive || string(k0.PrivateSealed) != "sealed-k-a" || len(k0.Public) != 32 ||
		k0.ActivatedAt == nil || !k0.ActivatedAt.Equal(at(1)) || k0.RetiredAt != nil || k0.ExpiresAt != nil {
		t.Fatalf("key = %+v", k0)
	}

	// A rotation inside one transaction: active -> retired, next -> active.
	ok(t, s.InTx(ctx, func(tx core.Tx) error {
		keys, err := tx.LockSigningKeys(ctx)
		if err != nil {
			return err
		}
		if len(keys) != 3 {
			return fmt.Errorf("LockSigningKeys saw %d keys", len(keys))
		}
		a.State, a.RetiredAt, a.ExpiresAt = core.KeyRetired, ptr(at(10)), ptr(at(70))
		if err := tx.UpdateSigningKey(ctx, &a); err != nil {
			return err
		}
		n.State, n.ActivatedAt = core.KeyActive, ptr(at(10))
		return tx.UpdateSigningKey(ctx, &n)
	}))
	keys, err = s.ListSigningKeys(ctx)
	ok(t, err)
	if keys[0].State != core.KeyRetired || !keys[0].ExpiresAt.Equal(at(70)) || keys[1].KID != "k-n" && keys[2].KID != "k-n" {
		t.Fatalf("after rotation: %+v", keys)
	}

	// Making a second key active conflicts.
	r := key("k-r", core.KeyActive)
	wantCode(t, s.UpdateSigningKey(ctx, &r), core.ECONFLICT)
	wantCode(t, s.UpdateSigningKey(ctx, ptr(key("k-missing", core.KeyRetired))), core.ENOTFOUND)
	wantMessage(t, s.UpdateSigningKey(ctx, ptr(key("k-missing", core.KeyRetired))), "signing key not found")

	// Outside a transaction it still returns the keys.
	keys, err = s.LockSigningKeys(ctx)
	ok(t, err)
	if len(keys) != 3 {
		t.Fatalf("LockSigningKeys = %d keys", len(keys))
	}
}

// TestLockSigningKeysSerializes shows the second locker waiting for the
// first to commit: it is seen waiting in pg_locks while the first holds the
// lock, and then it reads the key the first inserted.
func TestLockSigningKeysSerializes(t *testing.T) {
	t.Parallel()
	s, db := mustStore(t)

	locked, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.InTx(ctx, func(tx core.Tx) error {
			if _, err := tx.LockSigningKeys(ctx); err != nil {
				return err
			}
			close(locked)
			<-release
			k := key("k-first", core.KeyActive)
			return tx.InsertSigningKey(ctx, &k)
		})
	}()
	<-locked

	type result struct {
		keys []core.SigningKey
		err  error
	}
	secondDone := make(chan result, 1)
	go func() {
		var r result
		r.err = s.InTx(ctx, func(tx core.Tx) error {
			r.keys, r.err = tx.LockSigningKeys(ctx)
			return r.err
		})
		secondDone <- r
	}()

	// Wait until the second transaction is blocked on the advisory lock.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		ok(t, db.GetContext(ctx, &waiting, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`))
		if waiting == 1 {
			break
		}
		select {
		case r := <-secondDone:
			t.Fatalf("second LockSigningKeys returned while the first held the lock: %+v", r)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("second LockSigningKeys never waited for the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	ok(t, <-firstDone)
	r := <-secondDone
	ok(t, r.err)
	if len(r.keys) != 1 || r.keys[0].KID != "k-first" {
		t.Fatalf("second locker saw %+v, want the first's committed key", r.keys)
	}
}

func TestAudit(t *testing.T) {
	t.Parallel()
	s, db := mustStore(t)
	t1, t2 := uuid.New(), uuid.New()
	subject, sid := uuid.New(), uuid.New()

	first := core.AuditEvent{
		Time: at(0).In(time.FixedZone("X", 3600)), RequestID: "req-1", Event: core.EventLoginSuccess,
		Outcome: core.OutcomeSuccess, Reason: "", Actor: "cli", SubjectID: &subject,
		SubjectEmail: "ann@example.com", TenantID: &t1, TenantSlug: "acme", SessionID: &sid,
		ClientIP: "192.0.2.1", UserAgent: "curl/8", ClientID: "app",
	}
	ok(t, s.InsertAuditEvent(ctx, &first))
	if first.ID == 0 || !first.Time.Equal(at(0)) || first.Time.Location() != time.UTC {
		t.Fatalf("InsertAuditEvent = %+v", first)
	}
	events := []core.AuditEvent{
		{Time: at(1), Event: core.EventLoginFailure, Outcome: core.OutcomeFailure, Reason: "bad_password", SubjectEmail: "ANN@example.com", TenantID: &t1},
		{Time: at(2), Event: core.EventLoginFailure, Outcome: core.OutcomeFailure, Reason: "unknown_email", SubjectEmail: "bob@example.com", TenantID: &t2},
		{Time: at(3), Event: core.EventKeyRotate, Outcome: core.OutcomeSuccess},
	}
	for i := range events {
		ok(t, s.InsertAuditEvent(ctx, &events[i]))
	}
	now := core.AuditEvent{Event: core.EventLogout, Outcome: core.OutcomeSuccess}
	ok(t, s.InsertAuditEvent(ctx, &now))
	if now.Time.IsZero() || now.Time.Location() != time.UTC || now.ID <= events[2].ID {
		t.Fatalf("InsertAuditEvent without time = %+v", now)
	}
	wantCode(t, s.InsertAuditEvent(ctx, &core.AuditEvent{Event: "x", Outcome: "maybe"}), core.EINVALID)

	got, err := s.ListAuditEvents(ctx, core.AuditFilter{Email: "ann@EXAMPLE.com"})
	ok(t, err)
	if len(got) != 2 || got[0].ID != events[0].ID || !reflect.DeepEqual(got[1], first) {
		t.Fatalf("by email = %+v\nwant [%+v %+v]", got, events[0], first)
	}

	ids := func(f core.AuditFilter) []int64 {
		t.Helper()
		got, err := s.ListAuditEvents(ctx, f)
		ok(t, err)
		out := []int64{}
		for _, e := range got {
			out = append(out, e.ID)
		}
		return out
	}
	e := func(i int) int64 { return events[i].ID }
	for _, tc := range []struct {
		name string
		f    core.AuditFilter
		want []int64
	}{
		{"all newest first", core.AuditFilter{}, []int64{now.ID, e(2), e(1), e(0), first.ID}},
		{"tenant", core.AuditFilter{TenantID: &t1}, []int64{e(0), first.ID}},
		{"other tenant", core.AuditFilter{TenantID: &t2}, []int64{e(1)}},
		{"since", core.AuditFilter{Since: at(2)}, []int64{now.ID, e(2), e(1)}},
		{"email and tenant", core.AuditFilter{Email: "bob@example.com", TenantID: &t1}, []int64{}},
		{"email, tenant, since", core.AuditFilter{Email: "ann@example.com", TenantID: &t1, Since: at(1)}, []int64{e(0)}},
		{"limit", core.AuditFilter{Limit: 2}, []int64{now.ID, e(2)}},
		{"unknown email", core.AuditFilter{Email: "nobody@example.com"}, []int64{}},
		{"event", core.AuditFilter{Event: core.EventLoginFailure}, []int64{e(1), e(0)}},
		{"all but one event", core.AuditFilter{ExcludeEvent: core.EventLoginFailure}, []int64{now.ID, e(2), first.ID}},
		{"until (exclusive)", core.AuditFilter{Until: at(2)}, []int64{e(0), first.ID}},
		{"since and until", core.AuditFilter{Since: at(1), Until: at(3)}, []int64{e(1), e(0)}},
		{"before a position", core.AuditFilter{Before: &core.AuditPosition{Time: at(2), ID: e(1)}}, []int64{e(0), first.ID}},
		{"before: same time, lower id", core.AuditFilter{Before: &core.AuditPosition{Time: at(2), ID: e(1) + 1}}, []int64{e(1), e(0), first.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(tc.f); !slices.Equal(got, tc.want) {
				t.Fatalf("ListAuditEvents(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}

	// Limits: default 50, at most 1000.
	for i := range 1005 {
		ok(t, s.InsertAuditEvent(ctx, &core.AuditEvent{Time: at(100 + i), Event: "bulk", Outcome: core.OutcomeSuccess}))
	}
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {7, 7}, {1000, 1000}, {5000, 1000}} {
		if n := len(ids(core.AuditFilter{Limit: tc.limit})); n != tc.want {
			t.Errorf("Limit %d returned %d, want %d", tc.limit, n, tc.want)
		}
	}

	// Append-only, whoever asks.
	for _, stmt := range []string{
		`UPDATE user_login_events SET reason = 'x'`,
		`DELETE FROM user_login_events`,
		`TRUNCATE user_login_events`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only", stmt, err)
		}
	}
	if n := len(ids(core.AuditFilter{Since: at(0), Limit: 1000})); n != 1000 {
		t.Fatalf("rows after tampering = %d", n)
	}
}

func TestInTx(t *testing.T) {
	t.Parallel()
	s, db := mustStore(t)

	ok(t, s.InTx(ctx, func(tx core.Tx) error {
		tn := core.Tenant{Slug: "committed"}
		if err := tx.CreateTenant(ctx, &tn); err != nil {
			return err
		}
		// Reads inside the transaction see its own writes.
		_, err := tx.TenantBySlug(ctx, "committed")
		return err
	}))
	if _, err := s.TenantBySlug(ctx, "committed"); err != nil {
		t.Fatalf("committed tenant missing: %v", err)
	}

	// fn's error comes back unchanged and the writes are gone.
	coreErr := core.Errorf(core.EDENIED, "nope")
	for _, want := range []error{errBoom, coreErr} {
		err := s.InTx(ctx, func(tx core.Tx) error {
			tn := mustTenant(t, tx, "rolled-back")
			mustUser(t, tx, tn.ID, "ann@example.com")
			return want
		})
		if err != want {
			t.Fatalf("InTx returned %v, want fn's own %v", err, want)
		}
		if _, err := s.TenantBySlug(ctx, "rolled-back"); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("rolled back tenant exists: %v", err)
		}
	}

	// A panic rolls back too and keeps panicking.
	func() {
		defer func() {
			if p := recover(); p != errBoom {
				t.Fatalf("recovered %v, want errBoom", p)
			}
		}()
		_ = s.InTx(ctx, func(tx core.Tx) error {
			mustTenant(t, tx, "panicked")
			panic(errBoom)
		})
	}()
	if _, err := s.TenantBySlug(ctx, "panicked"); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("tenant of a panicked tx exists: %v", err)
	}

	// A conflict inside the transaction reaches the caller as ECONFLICT.
	err := s.InTx(ctx, func(tx core.Tx) error {
		return tx.CreateTenant(ctx, &core.Tenant{Slug: "committed"})
	})
	wantCode(t, err, core.ECONFLICT)

	// A commit that fails (a statement failed and fn ignored it) is an error.
	err = s.InTx(ctx, func(tx core.Tx) error {
		_ = tx.CreateTenant(ctx, &core.Tenant{Slug: "committed"})
		return nil
	})
	if err == nil {
		t.Fatal("InTx committed an aborted transaction")
	}

	// No connection is left in a transaction.
	var open int
	ok(t, db.GetContext(ctx, &open, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`))
	if open != 0 {
		t.Fatalf("%d connections idle in transaction", open)
	}

	// A cancelled context can't begin.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.InTx(cctx, func(core.Tx) error { return nil }); err == nil {
		t.Fatal("InTx began with a cancelled context")
	}
}

func TestTimesAreUTC(t *testing.T) {
	t.Parallel()
	_, raw := mustOpenMigratedURL(t)
	// A session time zone far from UTC: every time must still come back UTC.
	u, err := neturl.Parse(raw)
	ok(t, err)
	q := u.Query()
	q.Set("timezone", "Asia/Kolkata")
	u.RawQuery = q.Encode()
	ist := mustOpen(t, u.String())
	var tz string
	ok(t, ist.GetContext(ctx, &tz, `SHOW timezone`))
	if tz != "Asia/Kolkata" {
		t.Fatalf("session time zone = %q", tz)
	}
	s := postgres.NewStore(ist)
	tn := mustTenant(t, s, "acme")
	user := mustUser(t, s, tn.ID, "ann@example.com", func(u *core.User) { u.LockedUntil = ptr(at(1)) })
	se := mustSession(t, s, user, func(se *core.Session) { se.RevokedAt = ptr(at(2)); se.RevokedReason = "x" })
	got, gs, err := s.UserBySession(ctx, se.ID)
	ok(t, err)
	for name, tm := range map[string]time.Time{
		"tenant.CreatedAt": tn.CreatedAt, "user.CreatedAt": got.CreatedAt, "user.UpdatedAt": got.UpdatedAt,
		"user.LockedUntil": *got.LockedUntil, "session.CreatedAt": gs.CreatedAt, "session.ExpiresAt": gs.ExpiresAt,
		"session.IdleExpiresAt": gs.IdleExpiresAt, "session.LastUsedAt": gs.LastUsedAt, "session.RevokedAt": *gs.RevokedAt,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s in %v", name, tm.Location())
		}
	}
	if !got.LockedUntil.Equal(at(1)) || gs.RevokedReason != "x" {
		t.Fatalf("round trip: %+v %+v", got, gs)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	ok(t, s.Ping(ctx))
}

// deadDB is a pool pointing at a port nobody listens on; nothing connects
// until a method runs.
func deadDB(t testing.TB) *sqlx.DB {
	db, err := sqlx.Open("postgres", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	ok(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	s := postgres.NewStore(deadDB(t))
	id := uuid.New()
	calls := map[string]func() error{
		"Ping": func() error { return s.Ping(ctx) },
		"InTx": func() error { return s.InTx(ctx, func(core.Tx) error { return nil }) },
		"TenantBySlug": func() error {
			_, err := s.TenantBySlug(ctx, "acme")
			return err
		},
		"ListTenants": func() error {
			_, err := s.ListTenants(ctx)
			return err
		},
		"CreateUser": func() error { return s.CreateUser(ctx, &core.User{TenantID: id, Email: "a@b"}) },
		"SetUserStatus": func() error {
			return s.SetUserStatus(ctx, id, core.UserActive)
		},
		"RevokeSession": func() error {
			_, err := s.RevokeSession(ctx, id, "x", at(0))
			return err
		},
		"SpendRefreshToken": func() error {
			_, _, _, err := s.SpendRefreshToken(ctx, hash("x"), at(0))
			return err
		},
		"LockSigningKeys": func() error {
			_, err := s.LockSigningKeys(ctx)
			return err
		},
		"ListSigningKeys": func() error {
			_, err := s.ListSigningKeys(ctx)
			return err
		},
		"ListUsers": func() error {
			_, err := s.ListUsers(ctx, nil)
			return err
		},
		"ListAuditEvents": func() error {
			_, err := s.ListAuditEvents(ctx, core.AuditFilter{})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			wantCode(t, err, core.EUNAVAILABLE)
			wantMessage(t, err, "database is temporarily unavailable")
			if core.RetryAfter(err) <= 0 {
				t.Fatalf("no RetryAfter on %v", err)
			}
		})
	}
}

// TestUnavailableEveryMethod checks that each method classifies a driver
// failure rather than returning it raw.
func TestUnavailableEveryMethod(t *testing.T) {
	t.Parallel()
	s := postgres.NewStore(deadDB(t))
	id := uuid.New()
	errs := map[string]error{}
	collect := func(name string, err error) { errs[name] = err }
	collect("CreateTenant", s.CreateTenant(ctx, &core.Tenant{Slug: "a"}))
	collect("SetTenantStatus", s.SetTenantStatus(ctx, id, core.TenantActive))
	_, err := s.UserByEmail(ctx, "a", "b")
	collect("UserByEmail", err)
	_, err = s.UserByID(ctx, id)
	collect("UserByID", err)
	_, _, err = s.UserBySession(ctx, id)
	collect("UserBySession", err)
	_, err = s.SeededAdmin(ctx, id)
	collect("SeededAdmin", err)
	_, err = s.HasAdmin(ctx, id)
	collect("HasAdmin", err)
	collect("SetPassword", s.SetPassword(ctx, id, "h", false, nil))
	collect("SetUserLock", s.SetUserLock(ctx, id, nil, 0))
	collect("RecordLogin", s.RecordLogin(ctx, id, at(0), ""))
	collect("CreateSession", s.CreateSession(ctx, &core.Session{}))
	collect("CreateRefreshToken", s.CreateRefreshToken(ctx, &core.RefreshToken{}))
	_, _, err = s.RefreshTokenByHash(ctx, hash("x"))
	collect("RefreshTokenByHash", err)
	collect("StoreRotation", s.StoreRotation(ctx, &core.RefreshToken{}, nil, at(0), at(0), &core.AuditEvent{}))
	_, err = s.SessionByID(ctx, id)
	collect("SessionByID", err)
	_, err = s.RevokeUserSessions(ctx, id, nil, "x", at(0))
	collect("RevokeUserSessions", err)
	_, err = s.RevokeTenantSessions(ctx, id, "x", at(0))
	collect("RevokeTenantSessions", err)
	collect("InsertSigningKey", s.InsertSigningKey(ctx, &core.SigningKey{Alg: core.AlgEdDSA}))
	collect("UpdateSigningKey", s.UpdateSigningKey(ctx, &core.SigningKey{Alg: core.AlgEdDSA}))
	collect("InsertSigningKey RS256", s.InsertSigningKey(ctx, &core.SigningKey{Alg: core.AlgRS256}))
	collect("UpdateSigningKey RS256", s.UpdateSigningKey(ctx, &core.SigningKey{Alg: core.AlgRS256}))
	collect("CreateResetToken", s.CreateResetToken(ctx, &core.ResetToken{}))
	collect("VoidResetTokens", s.VoidResetTokens(ctx, id, "", at(0)))
	_, err = s.UseResetToken(ctx, hash("x"), at(0))
	collect("UseResetToken", err)
	collect("InsertAuditEvent", s.InsertAuditEvent(ctx, &core.AuditEvent{}))
	collect("CreateRole", s.CreateRole(ctx, &core.Role{}))
	_, err = s.ListRoles(ctx, id)
	collect("ListRoles", err)
	_, err = s.ShareRoles(ctx, id, []string{"a"})
	collect("ShareRoles", err)
	_, err = s.ListUsersPage(ctx, core.UserFilter{TenantID: id, Limit: 1})
	collect("ListUsersPage", err)
	collect("SetUserRoles", s.SetUserRoles(ctx, id, nil))
	collect("SetDisplayName", s.SetDisplayName(ctx, id, ""))
	for name, err := range errs {
		if core.ErrorCode(err) != core.EUNAVAILABLE {
			t.Errorf("%s = %v, want EUNAVAILABLE", name, err)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	free := testenv.FreePort(t)
	_, err := postgres.Open(ctx, fmt.Sprintf("postgres://postgres:s3cret@127.0.0.1:%d/x?sslmode=disable", free),
		postgres.Options{ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("Open on a free port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open error leaks the password: %v", err)
	}
	_, err = postgres.Open(ctx, "postgres://u:s3cret@127.0.0.1:5432/x?sslmode=bogus", postgres.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open with a bad URL = %v", err)
	}

	db := mustOpen(t, testenv.Postgres(t))
	if got := db.Stats().MaxOpenConnections; got != 30 {
		t.Fatalf("MaxOpenConnections = %d", got)
	}
	db2, err := postgres.Open(ctx, testenv.Postgres(t), postgres.Options{MaxIdleConns: 1})
	ok(t, err)
	db2.Close()
}

// TestMessagesNeverLeakSQL forces one error of each class and checks the
// caller-safe text.
func TestMessagesNeverLeakSQL(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	tn := mustTenant(t, s, "acme")
	mustUser(t, s, tn.ID, "ann@example.com")
	for _, err := range []error{
		s.CreateTenant(ctx, &core.Tenant{Slug: "BAD"}),
		s.CreateTenant(ctx, &core.Tenant{Slug: "acme"}),
		s.CreateUser(ctx, &core.User{TenantID: tn.ID, Email: "ANN@example.com"}),
		s.SetUserStatus(ctx, uuid.New(), core.UserActive),
	} {
		if err == nil {
			t.Fatal("want an error")
		}
		msg := core.ErrorMessage(err)
		if strings.ContainsAny(msg, "\"()$") || strings.Contains(msg, "pq") {
			t.Errorf("message %q looks like driver text", msg)
		}
		var ce *core.Error
		if !errors.As(err, &ce) {
			t.Errorf("%v is not a *core.Error", err)
		}
	}
}
