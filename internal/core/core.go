// Package core holds the domain of idp: its types, the rules of login,
// sessions, users, tenants and signing keys, and the store interfaces it
// consumes. It knows nothing of HTTP, SQL drivers, Redis clients or the CLI:
// both faces of the binary (idp serve and the admin commands) build the same
// Services from the same config through New, so every rule exists once.
package core

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/token"
)

// Config holds the validated settings core needs.
type Config struct {
	Issuer         string
	Audience       string
	AccessTTL      time.Duration
	RefreshTTL     time.Duration // absolute session lifetime
	RefreshIdleTTL time.Duration
	RefreshGrace   time.Duration

	// MaxAttempts failures from one source lock that source out of the
	// account; AccountMaxAttempts from all sources together lock the account
	// for every source without a device token or session.
	MaxAttempts        int
	AccountMaxAttempts int
	LockDuration       time.Duration
	LockMaxDuration    time.Duration
	// LockLevelTTL is how long earlier locks count towards escalation.
	LockLevelTTL time.Duration
	IPPerMinute  int
	// IPv6Prefix is the prefix length IPv6 clients are bucketed by.
	IPv6Prefix int
	// DeviceTokenTTL is how long a device token proves an earlier success.
	DeviceTokenTTL time.Duration

	PasswordMinLength int
	DefaultTenant     string
	SeedPasswordTTL   time.Duration
	ResetTTL          time.Duration

	MaxConcurrentHashes int
	// HashQueueWait is how long a request waits for a hashing slot before
	// it is answered 503.
	HashQueueWait time.Duration
	// KeyPollInterval is how often a server re-reads signing keys even
	// without a change notice.
	KeyPollInterval time.Duration
	// JWKSMaxAge is how long verifiers may cache the JWKS: a next key must
	// have been published that long before a rotation activates it.
	JWKSMaxAge time.Duration
	// MailPollInterval is how often the outbox worker looks for mail queued
	// by other processes.
	MailPollInterval time.Duration

	// Browser sessions of the hosted pages: absolute and idle lifetime, and
	// the absolute lifetime with "Keep me signed in".
	BrowserSessionTTL  time.Duration
	BrowserIdleTTL     time.Duration
	BrowserRememberTTL time.Duration
	// CodeTTL is how long an authorization code can be exchanged.
	CodeTTL time.Duration

	// Janitor (maintenance.go): how long ended sessions and audit rows are
	// kept (AuditRetention 0 keeps the audit log forever), rows deleted per
	// statement, and how many months of audit partitions exist ahead.
	SessionRetention time.Duration
	AuditRetention   time.Duration
	PruneBatch       int
	AuditMonthsAhead int
}

// Deps are the adapters and primitives core is built on.
type Deps struct {
	Store    Store
	Limiter  Limiter
	Notifier KeyNotifier
	Mailer   Mailer
	Hasher   Credentials
	Sealer   *token.Sealer
	// Devices issues and checks device tokens; nil makes a random key, so
	// tokens don't outlive the process (fine for tests, not for servers).
	Devices *token.DeviceTokens
	// Flows signs the hosted pages' sign-in flows; nil makes a random key.
	Flows  *token.MAC
	Logger *slog.Logger
	Now    func() time.Time
	// Maintenance is optional: without it the janitor is unavailable.
	Maintenance MaintenanceStore
	// Observer is told about logins, refreshes and the other events an
	// operator watches (idp serve's metrics); nil observes nothing.
	Observer Observer
}

// Credentials checks and makes password hashes. The built-in one is
// password.Hasher (HMAC-SHA256 with the pepper, then bcrypt); an external
// identity provider can stand in its place behind the same API, keeping
// lockout, sessions, tokens and audit as they are (docs/auth/idp.md).
type Credentials interface {
	Hash(password string) (string, error)
	Verify(encoded, password string) bool
	// VerifyDummy does the work of one Verify against nothing, so unknown
	// accounts take as long as real ones.
	VerifyDummy(password string)
	// Pad tops a failed Verify against encoded up to the work of one at the
	// configured cost, for hashes made cheaper (NeedsRehash).
	Pad(encoded, password string)
	NeedsRehash(encoded string) bool
}

// Services is the whole domain, shared by the HTTP server and the CLI.
type Services struct {
	Auth     *Auth
	Sessions *Sessions
	Users    *Users
	Tenants  *Tenants
	// Admin and Roles are tenant administration (admin.go, roles.go).
	Admin   *Admin
	Roles   *Roles
	Keys    *Keys
	Resets  *Resets
	Audit   *Audit
	Mail    *Outbox
	Browser *Browser
	Clients *Clients
	OAuth   *OAuth
	// Maintenance is the janitor (maintenance.go).
	Maintenance *Maintenance
}

// env is what every service shares.
type env struct {
	cfg     Config
	store   Store
	limiter Limiter
	notify  KeyNotifier
	mailer  Mailer
	hasher  Credentials
	sealer  *token.Sealer
	devices *token.DeviceTokens
	flows   *token.MAC
	log     *slog.Logger
	observe Observer
	now     func() time.Time
	hashes  chan struct{}
	policy  password.Policy
	keys    *Keys
	audit   *Audit
	// mailWake nudges this process's outbox worker after a commit that
	// queued mail, so delivery doesn't wait for the next poll.
	mailWake chan struct{}
}

// New builds every service from cfg and deps.
func New(cfg Config, deps Deps) (*Services, error) {
	if deps.Store == nil || deps.Hasher == nil || deps.Sealer == nil {
		return nil, errors.New("core: store, hasher and sealer are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Observer == nil {
		deps.Observer = NopObserver{}
	}
	if cfg.MaxConcurrentHashes < 1 {
		cfg.MaxConcurrentHashes = 1
	}
	if cfg.LockLevelTTL <= 0 {
		cfg.LockLevelTTL = 24 * time.Hour
	}
	if cfg.HashQueueWait <= 0 {
		cfg.HashQueueWait = time.Second
	}
	if cfg.KeyPollInterval <= 0 {
		cfg.KeyPollInterval = 2 * time.Second
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = 30 * time.Minute
	}
	if cfg.AccountMaxAttempts <= 0 {
		cfg.AccountMaxAttempts = 100
	}
	if cfg.DeviceTokenTTL <= 0 {
		cfg.DeviceTokenTTL = 90 * 24 * time.Hour
	}
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = 5 * time.Minute
	}
	if cfg.MailPollInterval <= 0 {
		cfg.MailPollInterval = time.Second
	}
	if cfg.BrowserSessionTTL <= 0 {
		cfg.BrowserSessionTTL = 12 * time.Hour
	}
	if cfg.BrowserIdleTTL <= 0 {
		cfg.BrowserIdleTTL = 30 * time.Minute
	}
	if cfg.BrowserRememberTTL <= 0 {
		cfg.BrowserRememberTTL = 720 * time.Hour
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = time.Minute
	}
	if deps.Flows == nil {
		var err error
		if deps.Flows, err = token.NewMAC([]byte(rand.Text()+rand.Text()), "login flows"); err != nil {
			return nil, err
		}
	}
	if deps.Devices == nil {
		var err error
		if deps.Devices, err = token.NewDeviceTokens([]byte(rand.Text() + rand.Text())); err != nil {
			return nil, err
		}
	}
	if cfg.SessionRetention <= 0 {
		cfg.SessionRetention = DefaultSessionRetention
	}
	if cfg.PruneBatch <= 0 {
		cfg.PruneBatch = DefaultPruneBatch
	}
	if cfg.AuditMonthsAhead <= 0 {
		cfg.AuditMonthsAhead = DefaultAuditMonthsAhead
	}
	e := &env{
		cfg:     cfg,
		store:   deps.Store,
		limiter: deps.Limiter,
		notify:  deps.Notifier,
		mailer:  deps.Mailer,
		hasher:  deps.Hasher,
		sealer:  deps.Sealer,
		devices: deps.Devices,
		flows:   deps.Flows,
		log:     deps.Logger,
		observe: deps.Observer,
		// Microseconds, as PostgreSQL stores them: a time read back equals
		// the one written, so durations computed from both agree.
		now:      func() time.Time { return deps.Now().UTC().Truncate(time.Microsecond) },
		hashes:   make(chan struct{}, cfg.MaxConcurrentHashes),
		policy:   password.Policy{MinLength: cfg.PasswordMinLength},
		mailWake: make(chan struct{}, 1),
	}
	e.audit = &Audit{env: e}
	e.keys = &Keys{env: e}
	return &Services{
		Auth:        &Auth{env: e},
		Sessions:    &Sessions{env: e},
		Users:       &Users{env: e},
		Tenants:     &Tenants{env: e},
		Admin:       &Admin{env: e},
		Roles:       &Roles{env: e},
		Keys:        e.keys,
		Resets:      &Resets{env: e},
		Audit:       e.audit,
		Mail:        &Outbox{env: e},
		Maintenance: &Maintenance{env: e, store: deps.Maintenance},
		Browser:     &Browser{env: e},
		Clients:     &Clients{env: e},
		OAuth:       &OAuth{env: e},
	}, nil
}

// withHashSlot runs fn while holding one of the bounded hashing slots, so a
// flood of logins queues briefly and then gets quick 503s instead of
// starving every other request of CPU.
func (e *env) withHashSlot(ctx context.Context, fn func()) error {
	select {
	case e.hashes <- struct{}{}:
		e.observe.HashSlot(0, HashAcquired)
	default:
		start := time.Now()
		t := time.NewTimer(e.cfg.HashQueueWait)
		defer t.Stop()
		select {
		case e.hashes <- struct{}{}:
			e.observe.HashSlot(time.Since(start), HashAcquired)
		case <-t.C:
			e.observe.HashSlot(time.Since(start), HashBusy)
			return &Error{Code: EUNAVAILABLE, Message: "the server is busy, try again shortly", RetryAfter: time.Second}
		case <-ctx.Done():
			e.observe.HashSlot(time.Since(start), HashCancelled)
			return &Error{Code: EUNAVAILABLE, Message: "request cancelled", Err: ctx.Err()}
		}
	}
	defer func() { <-e.hashes }()
	fn()
	return nil
}

// HashSlots reports how many hashing slots are taken now, of how many
// (security.max_concurrent_hashes).
func (a *Auth) HashSlots() (inUse, size int) { return len(a.hashes), cap(a.hashes) }

// Password rules a weak_password error names in its Reason, so a face can
// say which rule failed in its own words.
const (
	RuleMinLength      = password.RuleMinLength
	RuleCommon         = password.RuleCommon
	RuleContainsEmail  = password.RuleContainsEmail
	RuleContainsTenant = password.RuleContainsTenant
)

// checkPassword applies the password policy, mapping its errors to codes.
func (e *env) checkPassword(pw, email, tenant string) error {
	err := e.policy.Check(pw, email, tenant)
	var weak *password.WeakError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrTooLong):
		return &Error{Code: EINVALID, Message: "password is longer than 1024 bytes"}
	case errors.As(err, &weak):
		return &Error{Code: EWEAKPASSWORD, Message: weak.Reason, Reason: weak.Rule}
	default:
		return &Error{Code: EINVALID, Message: "invalid password", Err: err}
	}
}

// hashPassword hashes pw inside a hashing slot.
func (e *env) hashPassword(ctx context.Context, pw string) (string, error) {
	var (
		hash    string
		hashErr error
	)
	if err := e.withHashSlot(ctx, func() { hash, hashErr = e.hasher.Hash(pw) }); err != nil {
		return "", err
	}
	if hashErr != nil {
		return "", &Error{Code: EINTERNAL, Message: "could not hash password", Err: hashErr}
	}
	return hash, nil
}

// isCode reports whether err carries code.
func isCode(err error, code Code) bool { return ErrorCode(err) == code }
