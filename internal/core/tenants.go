package core

import (
	"context"
	"regexp"
)

// Tenants manages tenants.
type Tenants struct{ *env }

var slugRE = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

func validSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return Errorf(EINVALID, "tenant slug %q is not valid: use 1-63 lowercase letters, digits or hyphens", Escape(slug))
	}
	return nil
}

func tenantEvent(name string, t Tenant, meta Meta) *AuditEvent {
	ev := event(name, OutcomeSuccess, "", meta)
	id := t.ID
	ev.TenantID, ev.TenantSlug = &id, t.Slug
	return ev
}

// Create adds a tenant.
func (ts *Tenants) Create(ctx context.Context, slug, name string, meta Meta) (Tenant, error) {
	if err := validSlug(slug); err != nil {
		return Tenant{}, err
	}
	if name == "" {
		name = slug
	}
	if len(name) > 200 {
		return Tenant{}, Errorf(EINVALID, "tenant name is longer than 200 bytes")
	}
	t := Tenant{Slug: slug, Name: Escape(name), Status: TenantActive}
	err := ts.store.InTx(ctx, func(tx Tx) error {
		if err := ts.createTenant(ctx, tx, &t); err != nil {
			if isCode(err, ECONFLICT) {
				return Errorf(ECONFLICT, "tenant %q already exists", slug)
			}
			return err
		}
		return ts.audit.record(ctx, tx, tenantEvent(EventTenantCreate, t, meta))
	})
	return t, err
}

// Ensure creates the tenant if it is missing (used for the default tenant).
func (ts *Tenants) Ensure(ctx context.Context, slug string, meta Meta) (Tenant, error) {
	t, err := ts.store.TenantBySlug(ctx, slug)
	if err == nil {
		return t, nil
	}
	if !isCode(err, ENOTFOUND) {
		return Tenant{}, err
	}
	t, err = ts.Create(ctx, slug, slug, meta)
	if isCode(err, ECONFLICT) {
		return ts.store.TenantBySlug(ctx, slug)
	}
	return t, err
}

// List returns every tenant.
func (ts *Tenants) List(ctx context.Context) ([]Tenant, error) {
	return ts.store.ListTenants(ctx)
}

// Disable blocks a tenant and revokes all its sessions in one transaction;
// its users' logins and refreshes then fail.
func (ts *Tenants) Disable(ctx context.Context, slug string, meta Meta) (Tenant, error) {
	var t Tenant
	err := ts.store.InTx(ctx, func(tx Tx) error {
		var err error
		if t, err = tx.TenantBySlug(ctx, slug); err != nil {
			return notFoundAs(err, "tenant %q not found", slug)
		}
		if err := tx.SetTenantStatus(ctx, t.ID, TenantDisabled); err != nil {
			return err
		}
		t.Status = TenantDisabled
		if _, err := tx.RevokeTenantSessions(ctx, t.ID, "tenant_disabled", ts.now()); err != nil {
			return err
		}
		return ts.audit.record(ctx, tx, tenantEvent(EventTenantDisable, t, meta))
	})
	return t, err
}
