package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/idp-dev/idp/internal/core"
)

type clientRow struct {
	ID              string         `db:"id"`
	TenantID        uuid.UUID      `db:"tenant_id"`
	TenantSlug      string         `db:"tenant_slug"`
	Name            string         `db:"name"`
	RedirectURIs    pq.StringArray `db:"redirect_uris"`
	PostLogout      pq.StringArray `db:"post_logout_redirect_uris"`
	Public          bool           `db:"public"`
	FirstParty      bool           `db:"first_party"`
	Scopes          pq.StringArray `db:"scopes"`
	GrantTypes      pq.StringArray `db:"grant_types"`
	IDTokenAlg      string         `db:"id_token_alg"`
	CORSOrigins     pq.StringArray `db:"cors_origins"`
	SecretHash      []byte         `db:"secret_hash"`
	SecretRotatedAt sql.NullTime   `db:"secret_rotated_at"`
	Status          string         `db:"status"`
	CreatedAt       time.Time      `db:"created_at"`
	UpdatedAt       time.Time      `db:"updated_at"`
}

const clientCols = `c.id, c.tenant_id, t.slug AS tenant_slug, c.name, c.redirect_uris, c.post_logout_redirect_uris,
	c.public, c.first_party, c.scopes, c.grant_types, c.id_token_alg, c.cors_origins, c.secret_hash,
	c.secret_rotated_at, c.status, c.created_at, c.updated_at`

const clientFrom = `oauth_clients c JOIN tenants t ON t.id = c.tenant_id`

func (r clientRow) client() core.Client {
	return core.Client{
		ID: r.ID, TenantID: r.TenantID, TenantSlug: r.TenantSlug, Name: r.Name,
		RedirectURIs: list(r.RedirectURIs), PostLogoutRedirectURIs: list(r.PostLogout),
		Public: r.Public, FirstParty: r.FirstParty, Scopes: list(r.Scopes), GrantTypes: list(r.GrantTypes),
		IDTokenAlg: r.IDTokenAlg, CORSOrigins: list(r.CORSOrigins), SecretHash: r.SecretHash,
		SecretRotatedAt: timePtr(r.SecretRotatedAt), Status: r.Status,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func list(a pq.StringArray) []string {
	if a == nil {
		return []string{}
	}
	return []string(a)
}

func (q queries) CreateClient(ctx context.Context, c *core.Client) error {
	var r struct {
		CreatedAt  time.Time `db:"created_at"`
		UpdatedAt  time.Time `db:"updated_at"`
		TenantSlug string    `db:"tenant_slug"`
	}
	err := q.get(ctx, "client", &r, `
		WITH c AS (
			INSERT INTO oauth_clients (id, tenant_id, name, redirect_uris, post_logout_redirect_uris, public,
				first_party, scopes, grant_types, id_token_alg, cors_origins, secret_hash, secret_rotated_at, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			RETURNING tenant_id, created_at, updated_at
		)
		SELECT c.created_at, c.updated_at, t.slug AS tenant_slug FROM c JOIN tenants t ON t.id = c.tenant_id`,
		c.ID, c.TenantID, c.Name, pq.StringArray(c.RedirectURIs), roles(c.PostLogoutRedirectURIs), c.Public,
		c.FirstParty, roles(c.Scopes), roles(c.GrantTypes), c.IDTokenAlg, roles(c.CORSOrigins), c.SecretHash,
		c.SecretRotatedAt, c.Status)
	if err != nil {
		return err
	}
	c.CreatedAt, c.UpdatedAt, c.TenantSlug = r.CreatedAt.UTC(), r.UpdatedAt.UTC(), r.TenantSlug
	return nil
}

func (q queries) ClientByID(ctx context.Context, id string) (core.Client, error) {
	var r clientRow
	if err := q.get(ctx, "client", &r, `SELECT `+clientCols+` FROM `+clientFrom+` WHERE c.id = $1`, id); err != nil {
		return core.Client{}, err
	}
	return r.client(), nil
}

func (q queries) ListClients(ctx context.Context, tenantID *uuid.UUID) ([]core.Client, error) {
	var rows []clientRow
	if err := q.sel(ctx, "client", &rows, `SELECT `+clientCols+` FROM `+clientFrom+`
		WHERE $1::uuid IS NULL OR c.tenant_id = $1 ORDER BY t.slug, c.name, c.id`, tenantID); err != nil {
		return nil, err
	}
	out := make([]core.Client, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.client())
	}
	return out, nil
}

func (q queries) UpdateClient(ctx context.Context, c *core.Client) error {
	var updated time.Time
	err := q.get(ctx, "client", &updated, `
		UPDATE oauth_clients SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4,
			first_party = $5, scopes = $6, grant_types = $7, id_token_alg = $8, cors_origins = $9,
			secret_hash = $10, secret_rotated_at = $11, status = $12, updated_at = now()
		WHERE id = $1 RETURNING updated_at`,
		c.ID, c.Name, pq.StringArray(c.RedirectURIs), roles(c.PostLogoutRedirectURIs), c.FirstParty,
		roles(c.Scopes), roles(c.GrantTypes), c.IDTokenAlg, roles(c.CORSOrigins), c.SecretHash,
		c.SecretRotatedAt, c.Status)
	if err != nil {
		return err
	}
	c.UpdatedAt = updated.UTC()
	return nil
}

func (q queries) DeleteClient(ctx context.Context, id string) error {
	return q.execOne(ctx, "client", `DELETE FROM oauth_clients WHERE id = $1`, id)
}

func (q queries) ListCORSOrigins(ctx context.Context) ([]string, error) {
	var out []string
	err := q.sel(ctx, "client", &out, `SELECT DISTINCT unnest(cors_origins) FROM oauth_clients WHERE status = 'active'`)
	return out, err
}

func (q queries) RevokeClientSessions(ctx context.Context, clientID, reason string, at time.Time) (int, error) {
	return q.exec(ctx, "session", `
		UPDATE sessions SET revoked_at = $2, revoked_reason = $3
		WHERE client_id = $1 AND client_bound AND revoked_at IS NULL`, clientID, at, reason)
}

func (q queries) RevokeUserClientSessions(ctx context.Context, userID uuid.UUID, clientID, reason string, at time.Time) (int, error) {
	return q.exec(ctx, "session", `
		UPDATE sessions SET revoked_at = $3, revoked_reason = $4
		WHERE user_id = $1 AND client_id = $2 AND client_bound AND revoked_at IS NULL`, userID, clientID, at, reason)
}

type codeRow struct {
	Hash          []byte         `db:"hash"`
	ClientID      string         `db:"client_id"`
	UserID        uuid.UUID      `db:"user_id"`
	BrowserID     uuid.NullUUID  `db:"browser_session_id"`
	RedirectURI   string         `db:"redirect_uri"`
	Scopes        pq.StringArray `db:"scopes"`
	Nonce         string         `db:"nonce"`
	CodeChallenge string         `db:"code_challenge"`
	AuthTime      time.Time      `db:"auth_time"`
	CreatedAt     time.Time      `db:"created_at"`
	ExpiresAt     time.Time      `db:"expires_at"`
	UsedAt        sql.NullTime   `db:"used_at"`
	SessionID     uuid.NullUUID  `db:"session_id"`
}

const codeCols = `hash, client_id, user_id, browser_session_id, redirect_uri, scopes, nonce, code_challenge,
	auth_time, created_at, expires_at, used_at, session_id`

func (r codeRow) code() core.AuthCode {
	return core.AuthCode{Hash: r.Hash, ClientID: r.ClientID, UserID: r.UserID, BrowserSessionID: uuidPtr(r.BrowserID),
		RedirectURI: r.RedirectURI, Scopes: list(r.Scopes), Nonce: r.Nonce, CodeChallenge: r.CodeChallenge,
		AuthTime: r.AuthTime.UTC(), CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		UsedAt: timePtr(r.UsedAt), SessionID: uuidPtr(r.SessionID)}
}

func (q queries) CreateCode(ctx context.Context, c *core.AuthCode) error {
	var created time.Time
	err := q.get(ctx, "code", &created, `
		INSERT INTO oauth_codes (hash, client_id, user_id, browser_session_id, redirect_uri, scopes, nonce,
			code_challenge, auth_time, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10, now()), $11) RETURNING created_at`,
		c.Hash, c.ClientID, c.UserID, c.BrowserSessionID, c.RedirectURI, roles(c.Scopes), c.Nonce,
		c.CodeChallenge, c.AuthTime, nullTime(c.CreatedAt), c.ExpiresAt)
	if err != nil {
		return err
	}
	c.CreatedAt = created.UTC()
	return nil
}

// UseCode spends a code: the row lock makes every caller but the first
// re-check used_at, find it set and match no row.
func (q queries) UseCode(ctx context.Context, hash []byte, now time.Time) (core.AuthCode, error) {
	var r codeRow
	if err := q.get(ctx, "code", &r, `UPDATE oauth_codes SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING `+codeCols, hash, now); err != nil {
		return core.AuthCode{}, err
	}
	return r.code(), nil
}

func (q queries) CodeByHash(ctx context.Context, hash []byte) (core.AuthCode, error) {
	var r codeRow
	if err := q.get(ctx, "code", &r, `SELECT `+codeCols+` FROM oauth_codes WHERE hash = $1`, hash); err != nil {
		return core.AuthCode{}, err
	}
	return r.code(), nil
}

func (q queries) SetCodeSession(ctx context.Context, hash []byte, sessionID uuid.UUID) error {
	return q.execOne(ctx, "code", `UPDATE oauth_codes SET session_id = $2 WHERE hash = $1`, hash, sessionID)
}

func (q queries) ConsentScopes(ctx context.Context, userID uuid.UUID, clientID string) ([]string, error) {
	var scopes pq.StringArray
	if err := q.get(ctx, "consent", &scopes, `SELECT scopes FROM oauth_consents WHERE user_id = $1 AND client_id = $2`,
		userID, clientID); err != nil {
		return nil, err
	}
	return list(scopes), nil
}

func (q queries) SaveConsent(ctx context.Context, userID uuid.UUID, clientID string, scopes []string, at time.Time) error {
	_, err := q.exec(ctx, "consent", `
		INSERT INTO oauth_consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, granted_at = EXCLUDED.granted_at`,
		userID, clientID, roles(scopes), at)
	return err
}

func (q queries) DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) (int, error) {
	return q.exec(ctx, "consent", `DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
}

func (q queries) ListConsents(ctx context.Context, userID uuid.UUID) ([]core.Consent, error) {
	var rows []struct {
		ClientID  string         `db:"client_id"`
		Name      string         `db:"name"`
		Scopes    pq.StringArray `db:"scopes"`
		GrantedAt time.Time      `db:"granted_at"`
	}
	if err := q.sel(ctx, "consent", &rows, `SELECT o.client_id, c.name, o.scopes, o.granted_at
		FROM oauth_consents o JOIN oauth_clients c ON c.id = o.client_id
		WHERE o.user_id = $1 ORDER BY o.granted_at DESC`, userID); err != nil {
		return nil, err
	}
	out := make([]core.Consent, 0, len(rows))
	for _, r := range rows {
		out = append(out, core.Consent{ClientID: r.ClientID, ClientName: r.Name, Scopes: list(r.Scopes), GrantedAt: r.GrantedAt.UTC()})
	}
	return out, nil
}
