package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
)

type tenantRow struct {
	ID        uuid.UUID `db:"id"`
	Slug      string    `db:"slug"`
	Name      string    `db:"name"`
	Status    string    `db:"status"`
	CreatedAt time.Time `db:"created_at"`
}

func (r tenantRow) tenant() core.Tenant {
	return core.Tenant{
		ID:        r.ID,
		Slug:      r.Slug,
		Name:      r.Name,
		Status:    core.TenantStatus(r.Status),
		CreatedAt: r.CreatedAt.UTC(),
	}
}

const tenantCols = `id, slug, name, status, created_at`

// CreateTenant inserts t, filling ID and CreatedAt; an empty Status takes
// the column default (active).
func (q queries) CreateTenant(ctx context.Context, t *core.Tenant) error {
	fillID(&t.ID)
	var r tenantRow
	err := q.get(ctx, "tenant", &r, `
		INSERT INTO tenants (id, slug, name, status, created_at)
		VALUES ($1, $2, $3, COALESCE(NULLIF($4, ''), 'active'), COALESCE($5, now()))
		RETURNING `+tenantCols,
		t.ID, t.Slug, t.Name, string(t.Status), nullTime(t.CreatedAt))
	if err != nil {
		return err
	}
	*t = r.tenant()
	return nil
}

func (q queries) TenantBySlug(ctx context.Context, slug string) (core.Tenant, error) {
	var r tenantRow
	if err := q.get(ctx, "tenant", &r, `SELECT `+tenantCols+` FROM tenants WHERE slug = $1`, slug); err != nil {
		return core.Tenant{}, err
	}
	return r.tenant(), nil
}

// ListTenants returns every tenant ordered by slug.
func (q queries) ListTenants(ctx context.Context) ([]core.Tenant, error) {
	var rows []tenantRow
	if err := q.sel(ctx, "tenant", &rows, `SELECT `+tenantCols+` FROM tenants ORDER BY slug`); err != nil {
		return nil, err
	}
	out := make([]core.Tenant, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.tenant())
	}
	return out, nil
}

func (q queries) SetTenantStatus(ctx context.Context, id uuid.UUID, status core.TenantStatus) error {
	return q.execOne(ctx, "tenant",
		`UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1`, id, string(status))
}
