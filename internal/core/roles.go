package core

import (
	"context"
	"fmt"
	"time"
)

// Roles manages each tenant's role catalogue (docs/auth/idp.md, "Roles"):
// the roles its users may hold. The admin API, the admin pages and `idp
// roles` all call these methods.
type Roles struct{ *env }

// RoleView is a catalogue entry as the CLI, API and pages show it.
type RoleView struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Holders     int       `json:"holders"`
	CreatedAt   time.Time `json:"created_at"`
	// Builtin marks admin: in every tenant, not deletable.
	Builtin bool `json:"builtin"`
}

func (r Role) view() RoleView {
	return RoleView{Name: r.Name, Description: r.Description, Holders: r.Holders, CreatedAt: r.CreatedAt, Builtin: r.Name == RoleAdmin}
}

// adminRoleDescription is what the catalogue says of admin.
const adminRoleDescription = "Administers the tenant: users, roles and the audit log."

// Bounds of the catalogue: a tenant admin can't grow it without end.
const (
	maxRolesPerTenant  = 500
	maxRoleDescription = 200
)

// createTenant makes a tenant with its catalogue's admin role, in tx.
func (e *env) createTenant(ctx context.Context, tx Tx, t *Tenant) error {
	if err := tx.CreateTenant(ctx, t); err != nil {
		return err
	}
	return tx.CreateRole(ctx, &Role{TenantID: t.ID, Name: RoleAdmin, Description: adminRoleDescription})
}

// List returns the tenant's catalogue by name, each role with how many
// users hold it.
func (rs *Roles) List(ctx context.Context, act Actor, meta Meta) ([]RoleView, error) {
	s, err := rs.authorizeFor(ctx, act, "roles.list", meta)
	if err != nil {
		return nil, err
	}
	roles, err := rs.store.ListRoles(ctx, s.tenant.ID)
	if err != nil {
		return nil, err
	}
	out := make([]RoleView, 0, len(roles))
	for _, r := range roles {
		out = append(out, r.view())
	}
	s.read(ctx, rs.env, "roles.list", nil)
	return out, nil
}

// Create adds a role to the tenant's catalogue.
func (rs *Roles) Create(ctx context.Context, act Actor, name, description string, meta Meta) (RoleView, error) {
	s, err := rs.authorizeFor(ctx, act, "roles.create", meta)
	if err != nil {
		return RoleView{}, err
	}
	if !roleRE.MatchString(name) {
		return RoleView{}, Errorf(EINVALID, "role %q is not valid (lowercase letters, digits, _ : . -, up to 64 characters, starting with a letter)", Clean(name, 80))
	}
	if err := checkDescription(description); err != nil {
		return RoleView{}, err
	}
	r := Role{TenantID: s.tenant.ID, Name: name, Description: description}
	err = rs.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.CountRoles(ctx, s.tenant.ID)
		if err != nil {
			return err
		}
		if n >= maxRolesPerTenant {
			return &Error{Code: ECONFLICT, Reason: ReasonRolesFull,
				Message: fmt.Sprintf("tenant %q has %d roles, the most a catalogue holds", s.tenant.Slug, maxRolesPerTenant)}
		}
		if err := tx.CreateRole(ctx, &r); err != nil {
			if isCode(err, ECONFLICT) {
				return &Error{Code: ECONFLICT, Reason: ReasonRoleExists,
					Message: fmt.Sprintf("tenant %q already has a role %q", s.tenant.Slug, name)}
			}
			return err
		}
		ev := event(EventRoleCreate, OutcomeSuccess, name, s.meta)
		ev.TenantID, ev.TenantSlug = &s.tenant.ID, s.tenant.Slug
		return rs.audit.record(ctx, tx, ev)
	})
	if err != nil {
		return RoleView{}, err
	}
	return r.view(), nil
}

// Delete removes a role from the catalogue. A role some user still holds
// is refused (conflict, naming how many): taking access away from people
// is done user by user, deliberately, never as the side effect of tidying
// the catalogue. admin can't be deleted.
func (rs *Roles) Delete(ctx context.Context, act Actor, name string, meta Meta) error {
	s, err := rs.authorizeFor(ctx, act, "roles.delete", meta)
	if err != nil {
		return err
	}
	if name == RoleAdmin {
		return Errorf(ECONFLICT, "the admin role is in every tenant and can't be deleted")
	}
	return rs.store.InTx(ctx, func(tx Tx) error {
		// The lock waits for grants of the role in flight, and holds off
		// new ones, so the count below stays true until the delete commits.
		if _, err := tx.LockRole(ctx, s.tenant.ID, name); err != nil {
			return notFoundAs(err, "tenant %q has no role %q", s.tenant.Slug, Clean(name, 80))
		}
		n, err := tx.CountRoleHolders(ctx, s.tenant.ID, name)
		if err != nil {
			return err
		}
		if n > 0 {
			users := "users hold"
			if n == 1 {
				users = "user holds"
			}
			return Errorf(ECONFLICT, "role %q can't be deleted: %d %s it; take it away from them first", name, n, users)
		}
		if err := tx.DeleteRole(ctx, s.tenant.ID, name); err != nil {
			return err
		}
		ev := event(EventRoleDelete, OutcomeSuccess, name, s.meta)
		ev.TenantID, ev.TenantSlug = &s.tenant.ID, s.tenant.Slug
		return rs.audit.record(ctx, tx, ev)
	})
}

// checkDescription bounds a role's description like a display name.
func checkDescription(d string) error { return checkText("description", d, maxRoleDescription) }
