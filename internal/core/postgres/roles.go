package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/idp-dev/idp/internal/core"
)

type roleRow struct {
	TenantID    uuid.UUID `db:"tenant_id"`
	Name        string    `db:"name"`
	Description string    `db:"description"`
	CreatedAt   time.Time `db:"created_at"`
	Holders     int       `db:"holders"`
}

func (r roleRow) role() core.Role {
	return core.Role{TenantID: r.TenantID, Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt.UTC(), Holders: r.Holders}
}

func (q queries) CreateRole(ctx context.Context, r *core.Role) error {
	var at time.Time
	err := q.get(ctx, "role", &at, `
		INSERT INTO roles (tenant_id, name, description) VALUES ($1, $2, $3)
		RETURNING created_at`, r.TenantID, r.Name, r.Description)
	if err != nil {
		return err
	}
	r.CreatedAt = at.UTC()
	return nil
}

func (q queries) CountRoles(ctx context.Context, tenantID uuid.UUID) (int, error) {
	return q.count(ctx, "role", `SELECT count(*) FROM roles WHERE tenant_id = $1`, tenantID)
}

// ListRoles counts each role's holders with users_roles_idx (the
// containment operator is what the GIN index serves).
func (q queries) ListRoles(ctx context.Context, tenantID uuid.UUID) ([]core.Role, error) {
	var rows []roleRow
	err := q.sel(ctx, "role", &rows, `
		SELECT r.tenant_id, r.name, r.description, r.created_at,
			(SELECT count(*) FROM users u WHERE u.tenant_id = r.tenant_id AND u.roles @> ARRAY[r.name]) AS holders
		FROM roles r WHERE r.tenant_id = $1 ORDER BY r.name`, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]core.Role, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.role())
	}
	return out, nil
}

// ShareRoles takes FOR KEY SHARE locks: they don't block each other (two
// grants of one role run side by side), only LockRole's FOR UPDATE.
func (q queries) ShareRoles(ctx context.Context, tenantID uuid.UUID, names []string) ([]string, error) {
	var found []string
	err := q.sel(ctx, "role", &found, `
		SELECT name FROM roles WHERE tenant_id = $1 AND name = ANY ($2) ORDER BY name FOR KEY SHARE`,
		tenantID, pq.StringArray(names))
	if err != nil {
		return nil, err
	}
	return found, nil
}

func (q queries) LockRole(ctx context.Context, tenantID uuid.UUID, name string) (core.Role, error) {
	var r roleRow
	err := q.get(ctx, "role", &r, `
		SELECT tenant_id, name, description, created_at, 0 AS holders
		FROM roles WHERE tenant_id = $1 AND name = $2 FOR UPDATE`, tenantID, name)
	if err != nil {
		return core.Role{}, err
	}
	return r.role(), nil
}

func (q queries) CountRoleHolders(ctx context.Context, tenantID uuid.UUID, name string) (int, error) {
	return q.count(ctx, "role", `SELECT count(*) FROM users WHERE tenant_id = $1 AND roles @> ARRAY[$2::text]`, tenantID, name)
}

func (q queries) DeleteRole(ctx context.Context, tenantID uuid.UUID, name string) error {
	return q.execOne(ctx, "role", `DELETE FROM roles WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}
