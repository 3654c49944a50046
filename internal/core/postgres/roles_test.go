package postgres_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
)

// TestRoles: the catalogue per tenant, holder counts, and the locks that
// keep a role from being deleted under a grant in flight.
func TestRoles(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	acme := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "other")

	for _, r := range []core.Role{{TenantID: acme.ID, Name: "member", Description: "Members"}, {TenantID: acme.ID, Name: "billing"}, {TenantID: other.ID, Name: "member"}} {
		ok(t, s.CreateRole(ctx, &r))
		if r.CreatedAt.IsZero() || r.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreateRole did not fill CreatedAt: %+v", r)
		}
	}
	wantCode(t, s.CreateRole(ctx, &core.Role{TenantID: acme.ID, Name: "member"}), core.ECONFLICT)
	wantCode(t, s.CreateRole(ctx, &core.Role{TenantID: acme.ID, Name: "Not Valid"}), core.EINVALID)

	mustUser(t, s, acme.ID, "a@example.com", func(u *core.User) { u.Roles = []string{"member", "billing"} })
	mustUser(t, s, acme.ID, "b@example.com", func(u *core.User) { u.Roles = []string{"member"} })
	mustUser(t, s, other.ID, "c@example.com", func(u *core.User) { u.Roles = []string{"member"} })

	roles, err := s.ListRoles(ctx, acme.ID)
	ok(t, err)
	var got []string
	for _, r := range roles {
		got = append(got, fmt.Sprintf("%s:%d:%s", r.Name, r.Holders, r.Description))
	}
	if want := []string{"billing:1:", "member:2:Members"}; !slices.Equal(got, want) {
		t.Fatalf("ListRoles = %v, want %v (holders of this tenant only)", got, want)
	}
	if n, err := s.CountRoles(ctx, acme.ID); err != nil || n != 2 {
		t.Fatalf("CountRoles = %d, %v", n, err)
	}
	if n, err := s.CountRoleHolders(ctx, acme.ID, "member"); err != nil || n != 2 {
		t.Fatalf("CountRoleHolders = %d, %v", n, err)
	}
	found, err := s.ShareRoles(ctx, acme.ID, []string{"member", "ghost", "billing"})
	ok(t, err)
	if !slices.Equal(found, []string{"billing", "member"}) {
		t.Fatalf("ShareRoles = %v", found)
	}
	_, err = s.LockRole(ctx, acme.ID, "ghost")
	wantCode(t, err, core.ENOTFOUND)
	wantCode(t, s.DeleteRole(ctx, acme.ID, "ghost"), core.ENOTFOUND)
	ok(t, s.DeleteRole(ctx, acme.ID, "billing"))
	if n, _ := s.CountRoles(ctx, acme.ID); n != 1 {
		t.Fatalf("after delete %d roles", n)
	}

	// A grant holding its role (ShareRoles in an open transaction) makes
	// LockRole wait until the grant commits; then the holder count sees it.
	granted := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(tx core.Tx) error {
			if _, err := tx.ShareRoles(ctx, other.ID, []string{"member"}); err != nil {
				return err
			}
			close(granted)
			<-release
			return nil
		})
	}()
	<-granted
	locked := make(chan time.Time, 1)
	go func() {
		_ = s.InTx(ctx, func(tx core.Tx) error {
			_, err := tx.LockRole(ctx, other.ID, "member")
			locked <- time.Now()
			return err
		})
	}()
	select {
	case <-locked:
		t.Fatal("LockRole did not wait for the transaction sharing the role")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	ok(t, <-done)
	select {
	case <-locked:
	case <-time.After(5 * time.Second):
		t.Fatal("LockRole still waits after the sharing transaction ended")
	}
}

// TestUsersPage: one tenant's users by email and id, filtered, continued
// after a position.
func TestUsersPage(t *testing.T) {
	t.Parallel()
	s, _ := mustStore(t)
	acme := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "other")
	mk := func(tid uuid.UUID, email string, status core.UserStatus, roles ...string) core.User {
		return mustUser(t, s, tid, email, func(u *core.User) { u.Status, u.Roles = status, roles })
	}
	ann := mk(acme.ID, "ann@example.com", core.UserActive, "member")
	bob := mk(acme.ID, "bob@example.com", core.UserDisabled)
	bea := mk(acme.ID, "bea@example.com", core.UserPending, "member", "ops")
	mk(other.ID, "amy@example.com", core.UserActive, "member")

	emails := func(f core.UserFilter) []string {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 10
		}
		users, err := s.ListUsersPage(ctx, f)
		ok(t, err)
		out := []string{}
		for _, u := range users {
			if u.TenantID != f.TenantID {
				t.Fatalf("ListUsersPage returned a user of another tenant: %s", u.Email)
			}
			out = append(out, u.Email)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    core.UserFilter
		want []string
	}{
		{"all, by email", core.UserFilter{TenantID: acme.ID}, []string{ann.Email, bea.Email, bob.Email}},
		{"status", core.UserFilter{TenantID: acme.ID, Status: core.UserPending}, []string{bea.Email}},
		{"role", core.UserFilter{TenantID: acme.ID, Role: "member"}, []string{ann.Email, bea.Email}},
		{"role nobody holds", core.UserFilter{TenantID: acme.ID, Role: "nobody"}, []string{}},
		{"prefix", core.UserFilter{TenantID: acme.ID, EmailPrefix: "b"}, []string{bea.Email, bob.Email}},
		{"prefix with LIKE characters", core.UserFilter{TenantID: acme.ID, EmailPrefix: "%"}, []string{}},
		{"after a position", core.UserFilter{TenantID: acme.ID, AfterEmail: ann.Email, AfterID: ann.ID}, []string{bea.Email, bob.Email}},
		{"limit", core.UserFilter{TenantID: acme.ID, Limit: 2}, []string{ann.Email, bea.Email}},
		{"every filter", core.UserFilter{TenantID: acme.ID, Status: core.UserPending, Role: "ops", EmailPrefix: "be"}, []string{bea.Email}},
		{"other tenant", core.UserFilter{TenantID: other.ID}, []string{"amy@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := emails(tc.f); !slices.Equal(got, tc.want) {
				t.Fatalf("ListUsersPage(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}

	ok(t, s.SetUserRoles(ctx, bob.ID, []string{"ops"}))
	ok(t, s.SetDisplayName(ctx, bob.ID, "Bob B"))
	got, err := s.UserByID(ctx, bob.ID)
	ok(t, err)
	if !slices.Equal(got.Roles, []string{"ops"}) || got.DisplayName != "Bob B" {
		t.Fatalf("after updates: %+v", got)
	}
	ok(t, s.SetUserRoles(ctx, bob.ID, nil))
	if got, _ := s.UserByID(ctx, bob.ID); len(got.Roles) != 0 {
		t.Fatalf("roles not cleared: %v", got.Roles)
	}
	wantCode(t, s.SetUserRoles(ctx, uuid.New(), nil), core.ENOTFOUND)
}
