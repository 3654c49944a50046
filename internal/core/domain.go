package core

import (
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// TenantStatus is the lifecycle state of a tenant.
type TenantStatus string

const (
	TenantActive   TenantStatus = "active"
	TenantDisabled TenantStatus = "disabled"
)

// Tenant scopes users: an email is unique per tenant, tokens carry tenant_id.
type Tenant struct {
	ID        uuid.UUID
	Slug      string
	Name      string
	Status    TenantStatus
	CreatedAt time.Time
}

// UserStatus is the lifecycle state of a user (docs/auth/idp.md).
type UserStatus string

const (
	UserPending  UserStatus = "pending"  // invited, no password yet
	UserActive   UserStatus = "active"   // may log in
	UserDisabled UserStatus = "disabled" // administratively blocked, sessions revoked
	// UserLocked is an administrative hold. Temporary lockout after failed
	// attempts is tracked by LockedUntil instead, so it ends without a write.
	UserLocked UserStatus = "locked"
)

// RoleAdmin administers its own tenant: users, roles and the audit log
// (the admin API and pages). It is in every tenant's catalogue and can't
// be deleted; only holders of it grant it.
const RoleAdmin = "admin"

// Role is one entry of a tenant's role catalogue: users of the tenant hold
// only catalogue roles.
type Role struct {
	TenantID    uuid.UUID
	Name        string
	Description string
	CreatedAt   time.Time
	// Holders is how many users of the tenant hold the role (filled by
	// ListRoles).
	Holders int
}

// User is an account in one tenant. Tenant fields are joined in by the store
// so a login needs one query.
type User struct {
	ID                 uuid.UUID
	TenantID           uuid.UUID
	TenantSlug         string
	TenantStatus       TenantStatus
	Email              string
	PasswordHash       string
	Status             UserStatus
	Roles              []string
	DisplayName        string
	MustChangePassword bool
	// PasswordExpiresAt is set for one-time (seeded) passwords.
	PasswordExpiresAt *time.Time
	Seeded            bool
	LockedUntil       *time.Time
	LockLevel         int
	LastLoginAt       *time.Time
	// EmailVerifiedAt is when the person completed a link mailed to the
	// address (an invite or a reset); nil until then.
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// LockedAt reports whether a temporary lock is in force at now.
func (u User) LockedAt(now time.Time) bool {
	return u.LockedUntil != nil && u.LockedUntil.After(now)
}

// Session is one login: a refresh token family identified by sid.
type Session struct {
	ID            uuid.UUID
	UserID        uuid.UUID
	TenantID      uuid.UUID
	CreatedAt     time.Time
	ExpiresAt     time.Time // absolute end, fixed at login
	IdleExpiresAt time.Time // moves forward on each use, never past ExpiresAt
	LastUsedAt    time.Time
	RevokedAt     *time.Time
	RevokedReason string
	ClientIP      string
	UserAgent     string
	ClientID      string
	// BrowserSessionID is the browser session that started this one (the
	// OpenID Connect code flow); signing that browser out ends this too.
	BrowserSessionID *uuid.UUID
	// ClientBound says ClientID is a registered client that started the
	// session (the code flow): only it may refresh or revoke it. Scope is
	// what that client was granted, space-separated.
	ClientBound bool
	Scope       string
	// AuthTime is when the user authenticated for a client-bound session.
	AuthTime *time.Time
}

// ActiveAt reports whether the session can still be refreshed at now.
func (s Session) ActiveAt(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt) && now.Before(s.IdleExpiresAt)
}

// BrowserSession is a signed-in browser (the SSO session of the hosted
// pages), identified by a cookie whose SHA-256 is Hash.
type BrowserSession struct {
	ID       uuid.UUID
	UserID   uuid.UUID
	TenantID uuid.UUID
	Hash     []byte
	// AuthTime is when the person last proved a password in this browser.
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time // absolute end
	IdleExpiresAt time.Time // moves with use, never past ExpiresAt
	LastUsedAt    time.Time
	Remember      bool // "Keep me signed in": a persistent cookie
	RevokedAt     *time.Time
	RevokedReason string
	ClientIP      string
	UserAgent     string
}

// ActiveAt reports whether the browser session is signed in at now.
func (b BrowserSession) ActiveAt(now time.Time) bool {
	return b.RevokedAt == nil && now.Before(b.ExpiresAt) && now.Before(b.IdleExpiresAt)
}

// RefreshToken is one member of a session's token family, stored by hash.
type RefreshToken struct {
	ID        uuid.UUID
	SessionID uuid.UUID
	ParentID  *uuid.UUID
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	SpentAt   *time.Time
	// Replay is the child token pair sealed under a key only the holder of
	// this token can derive; it lets a retried refresh get the same answer.
	Replay []byte
}

// KeyState is the stage of a signing key in a rotation.
type KeyState string

const (
	KeyNext    KeyState = "next"    // published, not yet signing
	KeyActive  KeyState = "active"  // signs
	KeyRetired KeyState = "retired" // published until its tokens expire
)

// SigningKey is a signing key with its private part sealed at rest: the
// Ed25519 seed, or an RSA key's PKCS #1 DER.
type SigningKey struct {
	KID   string
	State KeyState
	// Public is the raw 32-byte Ed25519 key, or an RSA key's PKCS #1 DER.
	Public        []byte
	PrivateSealed []byte
	CreatedAt     time.Time
	ActivatedAt   *time.Time
	RetiredAt     *time.Time
	// ExpiresAt is when a retired key leaves the JWKS: after every token it
	// signed has expired.
	ExpiresAt *time.Time
	// Alg is AlgEdDSA or AlgRS256; each rotates on its own.
	Alg string
}

// Kinds of ResetToken: a reset request never voids an invite.
const (
	TokenReset  = "reset"
	TokenInvite = "invite"
)

// ResetToken is a single-use password reset or invite token, stored by hash.
type ResetToken struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	Kind      string // TokenReset or TokenInvite
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// AuthCode is an OAuth authorization code, stored by hash, bound to what
// the authorization request said.
type AuthCode struct {
	Hash             []byte
	ClientID         string
	UserID           uuid.UUID
	BrowserSessionID *uuid.UUID
	RedirectURI      string
	Scopes           []string
	Nonce            string
	CodeChallenge    string // S256 of the verifier, "" without PKCE
	AuthTime         time.Time
	CreatedAt        time.Time
	ExpiresAt        time.Time
	UsedAt           *time.Time
	// SessionID is the session the code's exchange started.
	SessionID *uuid.UUID
}

// Consent is what a user allowed a third-party client.
type Consent struct {
	ClientID   string
	ClientName string
	Scopes     []string
	GrantedAt  time.Time
}

// Outcome of an audited event.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
)

// AuditEvent is one row of the append-only audit log.
type AuditEvent struct {
	ID           int64
	Time         time.Time
	RequestID    string
	Event        string
	Outcome      Outcome
	Reason       string
	Actor        string
	SubjectID    *uuid.UUID
	SubjectEmail string
	TenantID     *uuid.UUID
	TenantSlug   string
	SessionID    *uuid.UUID
	ClientIP     string
	UserAgent    string
	ClientID     string
	// RequestIDFromClient marks a request id the client sent (X-Request-Id)
	// rather than one the server made; ClientIDVerified says whether the
	// client authenticated as ClientID, or only named it.
	RequestIDFromClient bool
	ClientIDVerified    bool
	// Suppressed is set on an aggregated row of throttled attempts: how many
	// more throttled attempts of the same IP or account the previous window
	// had, which got no row of their own.
	Suppressed int
}

// Audit event types.
const (
	EventLoginSuccess    = "login_success"
	EventLoginFailure    = "login_failure"
	EventAccountLocked   = "account_locked"
	EventAccountUnlocked = "account_unlocked"
	EventRefresh         = "refresh"
	EventRefreshFailure  = "refresh_failure"
	EventRefreshReuse    = "refresh_reuse_detected"
	EventRefreshReplay   = "refresh_replay"
	EventLogout          = "logout"
	EventResetInitiate   = "password_reset_initiate"
	EventResetComplete   = "password_reset_complete"
	EventPasswordChange  = "password_change"
	EventRegister        = "register"
	EventUserCreate      = "user_create"
	EventUserSeed        = "user_seed"
	EventUserDisable     = "user_disable"
	EventUserEnable      = "user_enable"
	EventSessionsRevoke  = "sessions_revoke"
	EventTenantCreate    = "tenant_create"
	EventTenantDisable   = "tenant_disable"
	EventKeyRotate       = "key_rotate"
	EventKeyCreate       = "key_create"
	EventMailFailure     = "mail_failure"
	EventAccessDenied    = "access_denied"
	// Tenant administration (admin.go, roles.go). Reads by a tenant admin
	// are audited too (admin_read, the reason naming what was read), so
	// the log says who looked at whose data.
	EventUserUpdate  = "user_update"
	EventUserInvite  = "user_invite"
	EventRoleCreate  = "role_create"
	EventRoleDelete  = "role_delete"
	EventAdminRead   = "admin_read"
	EventAdminDenied = "admin_denied"
)

// Meta describes who is asking: it travels from the transport into audit
// rows. Its strings arrive as the client sent them: core cleans them once,
// on the way into storage (Clean).
type Meta struct {
	RequestID string
	// RequestIDFromClient says RequestID came from the client.
	RequestIDFromClient bool
	ClientIP            netip.Addr
	UserAgent           string
	// ClientID is what a public client says it is; ClientIDVerified is set
	// only when it authenticated as that client.
	ClientID         string
	ClientIDVerified bool
	// Actor names who acted when it isn't the subject, e.g. "cli" or a user id.
	Actor string
}

func (m Meta) ip() string {
	if !m.ClientIP.IsValid() {
		return ""
	}
	return m.ClientIP.String()
}
