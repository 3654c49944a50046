package core

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Store is the durable state of idp (PostgreSQL in production). Every method
// of Tx can be called on the Store directly (one statement, autocommit) or
// inside InTx, where all calls share one transaction that commits when fn
// returns nil and rolls back otherwise.
//
// Stores return *Error with ENOTFOUND for a missing row, ECONFLICT for a
// unique violation and EUNAVAILABLE when the database can't be reached;
// anything else is an internal error. Stores hold no business rules: which
// user may log in, which session is alive, is decided in this package.
type Store interface {
	Tx
	InTx(ctx context.Context, fn func(tx Tx) error) error
	Ping(ctx context.Context) error
}

// Tx is the set of storage operations core needs.
type Tx interface {
	// Tenants.
	CreateTenant(ctx context.Context, t *Tenant) error // fills ID, CreatedAt
	TenantBySlug(ctx context.Context, slug string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
	SetTenantStatus(ctx context.Context, id uuid.UUID, status TenantStatus) error

	// Users. Emails are passed normalized (NormalizeEmail); lookups compare
	// case-insensitively anyway. Returned users carry tenant slug and status.
	CreateUser(ctx context.Context, u *User) error // fills ID, CreatedAt, UpdatedAt; also writes the profile (DisplayName)
	UserByEmail(ctx context.Context, tenantSlug, email string) (User, error)
	UserByID(ctx context.Context, id uuid.UUID) (User, error)
	// UserBySession loads a session with its user in one query (for /me and
	// every bearer-authenticated request).
	UserBySession(ctx context.Context, sessionID uuid.UUID) (User, Session, error)
	ListUsers(ctx context.Context, tenantID *uuid.UUID) ([]User, error)
	// ListUsersPage returns up to f.Limit users of one tenant matching f,
	// ordered by email then id, after the cursor position when one is set.
	ListUsersPage(ctx context.Context, f UserFilter) ([]User, error)
	// SetUserRoles replaces the user's roles; SetDisplayName its profile's
	// display name.
	SetUserRoles(ctx context.Context, id uuid.UUID, roles []string) error
	SetDisplayName(ctx context.Context, id uuid.UUID, name string) error
	// SeededAdmin returns the seeded admin of a tenant, ENOTFOUND if none.
	SeededAdmin(ctx context.Context, tenantID uuid.UUID) (User, error)
	// HasAdmin reports whether any user of the tenant holds RoleAdmin.
	HasAdmin(ctx context.Context, tenantID uuid.UUID) (bool, error)
	SetUserStatus(ctx context.Context, id uuid.UUID, status UserStatus) error
	// SetPassword stores a new hash and the one-time-password flags.
	SetPassword(ctx context.Context, id uuid.UUID, hash string, mustChange bool, expiresAt *time.Time) error
	// SetUserLock records a temporary lock (nil clears it) and its level.
	SetUserLock(ctx context.Context, id uuid.UUID, lockedUntil *time.Time, level int) error
	// RecordLogin sets last_login_at and, when newHash is not empty, replaces
	// the password hash (cost upgrade).
	RecordLogin(ctx context.Context, id uuid.UUID, at time.Time, newHash string) error
	// MarkEmailVerified records that the person completed a link mailed to
	// the address; the first time counts.
	MarkEmailVerified(ctx context.Context, id uuid.UUID, at time.Time) error

	// Per-source login locks, the durable copy of what the Limiter holds
	// (the account-wide lock is the user's LockedUntil). source is a digest.
	SourceLock(ctx context.Context, userID uuid.UUID, source string) (*time.Time, error)
	SetSourceLock(ctx context.Context, userID uuid.UUID, source string, until time.Time) error
	ClearSourceLocks(ctx context.Context, userID uuid.UUID) error

	// Role catalogue. CreateRole is ECONFLICT for a name the tenant has.
	CreateRole(ctx context.Context, r *Role) error // fills CreatedAt
	// ListRoles returns the tenant's roles by name, with their holders.
	CountRoles(ctx context.Context, tenantID uuid.UUID) (int, error)
	ListRoles(ctx context.Context, tenantID uuid.UUID) ([]Role, error)
	// ShareRoles returns which of names are in the tenant's catalogue and
	// holds them (FOR KEY SHARE) until the transaction ends, so a role
	// can't be deleted between the check and the grant.
	ShareRoles(ctx context.Context, tenantID uuid.UUID, names []string) ([]string, error)
	// LockRole locks one role against concurrent grants (FOR UPDATE);
	// ENOTFOUND when the tenant has no such role.
	LockRole(ctx context.Context, tenantID uuid.UUID, name string) (Role, error)
	// CountRoleHolders counts the tenant's users holding the role.
	CountRoleHolders(ctx context.Context, tenantID uuid.UUID, name string) (int, error)
	DeleteRole(ctx context.Context, tenantID uuid.UUID, name string) error

	// Sessions and refresh tokens.
	CreateSession(ctx context.Context, s *Session) error
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// SpendRefreshToken marks the unspent token with this hash spent at now
	// and returns it with its session and user (one UPDATE ... RETURNING).
	// ENOTFOUND when no unspent token has this hash.
	SpendRefreshToken(ctx context.Context, hash []byte, now time.Time) (RefreshToken, Session, User, error)
	// RefreshTokenByHash finds a token whatever its state, with its session.
	RefreshTokenByHash(ctx context.Context, hash []byte) (RefreshToken, Session, error)
	// StoreRotation, in one statement, inserts child, records the replay
	// record on the parent, moves the session's last use and idle expiry
	// and appends ev to the audit log: with SpendRefreshToken, a refresh is
	// two statements in one transaction. It waits for a concurrent
	// revocation of the session and returns ENOTFOUND when the session was
	// revoked meanwhile: the caller must then roll back.
	StoreRotation(ctx context.Context, child *RefreshToken, replay []byte, usedAt, idleExpiresAt time.Time, ev *AuditEvent) error
	SessionByID(ctx context.Context, id uuid.UUID) (Session, error)
	// SetSessionExpiry moves a live session's absolute and idle ends.
	SetSessionExpiry(ctx context.Context, id uuid.UUID, expiresAt, idleExpiresAt time.Time) error
	// Revoke* mark live sessions revoked (already revoked ones keep their
	// first reason) and return how many changed. They revoke API and browser
	// sessions alike: RevokeSession takes the id of either (a browser
	// session's API sessions go with it); RevokeUserSessions keeps the one
	// session, of either kind, whose id is except.
	RevokeSession(ctx context.Context, id uuid.UUID, reason string, at time.Time) (int, error)
	RevokeUserSessions(ctx context.Context, userID uuid.UUID, except *uuid.UUID, reason string, at time.Time) (int, error)
	RevokeTenantSessions(ctx context.Context, tenantID uuid.UUID, reason string, at time.Time) (int, error)

	// Browser sessions.
	CreateBrowserSession(ctx context.Context, b *BrowserSession) error
	// BrowserSessionByHash loads the browser session of a cookie with its
	// user (ENOTFOUND for an unknown cookie, whatever its state otherwise).
	BrowserSessionByHash(ctx context.Context, hash []byte) (BrowserSession, User, error)
	BrowserSessionByID(ctx context.Context, id uuid.UUID) (BrowserSession, error)
	// TouchBrowserSession records a use: last use and the idle end move.
	TouchBrowserSession(ctx context.Context, id uuid.UUID, usedAt, idleExpiresAt time.Time) error
	// ListLiveSessions returns the user's live API and browser sessions,
	// newest first.
	ListLiveSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]Session, []BrowserSession, error)

	// Signing keys.
	// LockSigningKeys serializes key changes across processes for the rest
	// of the transaction and returns every key.
	LockSigningKeys(ctx context.Context) ([]SigningKey, error)
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	InsertSigningKey(ctx context.Context, k *SigningKey) error
	UpdateSigningKey(ctx context.Context, k *SigningKey) error // state and dates

	// OAuth clients. ClientByID and ListClients join the tenant's slug in.
	CreateClient(ctx context.Context, c *Client) error // fills CreatedAt, UpdatedAt, TenantSlug
	ClientByID(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context, tenantID *uuid.UUID) ([]Client, error)
	UpdateClient(ctx context.Context, c *Client) error // every field but id, tenant and creation time
	DeleteClient(ctx context.Context, id string) error
	// ListCORSOrigins returns every active client's CORS origins.
	ListCORSOrigins(ctx context.Context) ([]string, error)
	// RevokeClientSessions revokes the live sessions bound to a client (of
	// one user with RevokeUserClientSessions).
	RevokeClientSessions(ctx context.Context, clientID, reason string, at time.Time) (int, error)
	RevokeUserClientSessions(ctx context.Context, userID uuid.UUID, clientID, reason string, at time.Time) (int, error)

	// Authorization codes.
	CreateCode(ctx context.Context, c *AuthCode) error
	// UseCode marks a live code used and returns it (one UPDATE ...
	// RETURNING); ENOTFOUND when it is unknown, used or expired.
	UseCode(ctx context.Context, hash []byte, now time.Time) (AuthCode, error)
	// CodeByHash finds a code whatever its state (to tell reuse).
	CodeByHash(ctx context.Context, hash []byte) (AuthCode, error)
	SetCodeSession(ctx context.Context, hash []byte, sessionID uuid.UUID) error

	// Consents.
	ConsentScopes(ctx context.Context, userID uuid.UUID, clientID string) ([]string, error) // ENOTFOUND when none
	SaveConsent(ctx context.Context, userID uuid.UUID, clientID string, scopes []string, at time.Time) error
	DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) (int, error)
	ListConsents(ctx context.Context, userID uuid.UUID) ([]Consent, error)

	// Password reset and invite tokens.
	CreateResetToken(ctx context.Context, t *ResetToken) error
	// VoidResetTokens makes every unused token of the user of kind ("" for
	// every kind) unusable.
	VoidResetTokens(ctx context.Context, userID uuid.UUID, kind string, at time.Time) error
	// UseResetToken atomically marks a live token used and returns it;
	// ENOTFOUND when it is unknown, used, voided or expired.
	UseResetToken(ctx context.Context, hash []byte, now time.Time) (ResetToken, error)
	// RecordResetRequest writes a reset or invite request in one statement,
	// the same statement whether or not an account matched, so the request
	// costs the same for every email (docs/auth/idp.md).
	RecordResetRequest(ctx context.Context, r ResetRequest) error

	// Mail outbox.
	EnqueueMail(ctx context.Context, m *OutboxMail) error // fills ID, CreatedAt
	// ClaimMail takes up to limit due mails for lease: a mail claimed by a
	// worker that died is due again once the lease ends.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxMail, error)
	// MailSent marks a mail delivered and drops its payload.
	MailSent(ctx context.Context, id int64, at time.Time) error
	// MailRetry releases a claimed mail for another attempt at next, or, with
	// failed, gives up on it (and drops its payload).
	MailRetry(ctx context.Context, id int64, next time.Time, lastErr string, failed bool) error

	// Audit.
	InsertAuditEvent(ctx context.Context, e *AuditEvent) error
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// ResetRequest is what one reset or invite request writes. The audit row
// is always written; the rest only when UserID is set: older unused tokens
// of VoidKind ("" voids none) are voided, Token is stored and Mail queued.
type ResetRequest struct {
	UserID   *uuid.UUID
	VoidKind string
	Token    *ResetToken
	Mail     *OutboxMail
	Event    *AuditEvent
}

// OutboxMail is one queued mail. Payload is the sealed Mail: it holds the
// link, and so a token.
type OutboxMail struct {
	ID        int64
	Kind      string
	Payload   []byte
	Attempts  int // attempts before this one
	CreatedAt time.Time
}

// AuditFilter selects audit events, newest first. Since is inclusive,
// Until exclusive; Before continues a page: only events older than it (by
// time, then id).
type AuditFilter struct {
	Email    string
	TenantID *uuid.UUID
	Event    string
	// ExcludeEvent leaves one event out (admin_read on the pages).
	ExcludeEvent string
	Since        time.Time
	Until        time.Time
	Before       *AuditPosition
	Limit        int
}

// AuditPosition is where a page of audit events ended.
type AuditPosition struct {
	Time time.Time
	ID   int64
}

// UserFilter selects a page of one tenant's users. Empty fields match
// everything; AfterEmail (with AfterID) continues after that user.
type UserFilter struct {
	TenantID    uuid.UUID
	Status      UserStatus
	Role        string
	EmailPrefix string
	AfterEmail  string
	AfterID     uuid.UUID
	Limit       int
}

// Attempt names whose budget a password verification spends: an account
// (accountKey of tenant and email) from one source (a client IP bucket, a
// device token or a session; a digest, see sourceKey). Failures count per
// source and, all sources together, per account (docs/auth/idp.md,
// "Lockout").
type Attempt struct {
	Account string
	Source  string
	// Trusted sources proved an earlier success (a device token) or hold a
	// session: the account-wide lock doesn't stop them, only their own.
	Trusted bool
}

// Reservation is the outcome of ReserveAttempt.
type Reservation struct {
	// SourceCount and AccountCount number this attempt in its windows.
	SourceCount, AccountCount int
	// Locked > 0: refused without counting, for that long; AccountLocked
	// says the lock is the account-wide one.
	Locked        time.Duration
	AccountLocked bool
}

// Limiter holds fast, rebuildable throttling state (Redis in production).
// Losing it never unlocks an account: locks of known users also live in the
// Store.
type Limiter interface {
	// ReserveAttempt atomically checks the locks that apply to a (the
	// source's, and the account's unless a is trusted) and, when none is in
	// force, counts one attempt for the source (in a window of sourceWindow)
	// and for the account (accountWindow).
	ReserveAttempt(ctx context.Context, a Attempt, sourceWindow, accountWindow time.Duration) (Reservation, error)
	// ReleaseAttempt gives back an attempt that verified nothing (the
	// database or the hashing queue failed), so outages don't count
	// against the user.
	ReleaseAttempt(ctx context.Context, a Attempt) error
	// ResetAttempts clears the source's counter after a success, and gives
	// back the account-wide attempt the success reserved. The account's
	// failures stay until its window ends: the owner signing in from a
	// trusted device must not give an attacker elsewhere a fresh budget.
	ResetAttempts(ctx context.Context, a Attempt) error
	// NextLockLevel counts one more lock of the source (or, with account,
	// of the whole account), remembered for levelTTL, and returns how many
	// came before this one.
	NextLockLevel(ctx context.Context, a Attempt, account bool, levelTTL time.Duration) (int, error)
	// Lock locks the source (or the whole account) for d and clears its
	// counter.
	Lock(ctx context.Context, a Attempt, account bool, d time.Duration) error
	// Unlock clears every lock, counter and level of the account, its
	// sources' included.
	Unlock(ctx context.Context, account string) error
	// Allow counts one request in a fixed window for bucket and reports
	// whether it is within limit, or how long until the window ends.
	Allow(ctx context.Context, bucket string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
	// Tally counts one event for bucket in the current fixed window and
	// returns the count so far and the previous window's total.
	Tally(ctx context.Context, bucket string, window time.Duration) (n, previous int, err error)
	Ping(ctx context.Context) error
}

// KeyNotifier tells every running server that signing keys changed.
type KeyNotifier interface {
	PublishKeysChanged(ctx context.Context) error
	// SubscribeKeysChanged delivers a value for each notice until ctx ends.
	SubscribeKeysChanged(ctx context.Context) <-chan struct{}
}

// Mail is one outgoing message.
type Mail struct {
	To        string    `json:"to"`
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject"`
	URL       string    `json:"url,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Mail kinds.
const (
	MailPasswordReset   = "password_reset"
	MailInvite          = "invite"
	MailPasswordChanged = "password_changed"
)

// Mailer delivers mail. Send must return within a bounded time.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}
