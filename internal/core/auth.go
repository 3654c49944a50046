package core

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/token"
)

// Auth logs users in with a password and authenticates access tokens.
type Auth struct{ *env }

// LoginInput is a password grant.
type LoginInput struct {
	Email    string
	Password string
	Tenant   string // slug; empty means the default tenant
}

// TokenResponse is what a successful login or refresh returns.
type TokenResponse struct {
	AccessToken            string `json:"access_token"`
	TokenType              string `json:"token_type"`
	ExpiresIn              int64  `json:"expires_in"`
	IssuedAt               string `json:"issued_at"`
	KID                    string `json:"kid"`
	RefreshToken           string `json:"refresh_token"`
	RefreshExpiresIn       int64  `json:"refresh_expires_in"`
	PasswordChangeRequired bool   `json:"password_change_required,omitempty"`
}

// errBadCredentials is the one answer for every failed login, whatever the
// cause: the cause goes to the audit log only.
func errBadCredentials(reason string) *Error {
	return &Error{Code: EDENIED, Message: "invalid email or password", Reason: reason}
}

// Login reasons, for the audit log.
const (
	ReasonUnknownEmail   = "unknown_email"
	ReasonBadPassword    = "bad_password"
	ReasonDisabled       = "disabled"
	ReasonPending        = "pending"
	ReasonTenantDisabled = "tenant_disabled"
	ReasonLocked         = "locked"
	ReasonRateLimited    = "rate_limited"
	ReasonPasswordExpire = "password_expired"
)

// accountKey names the throttling counter of (tenant, email): variants of
// one email share it, and unknown emails get one exactly like real ones.
func accountKey(tenant, email string) string { return tenant + "\x00" + email }

// limitIP applies the per-IP limit of an endpoint before any hashing.
func (e *env) limitIP(ctx context.Context, endpoint string, meta Meta) error {
	if e.cfg.IPPerMinute <= 0 || !meta.ClientIP.IsValid() || e.limiter == nil {
		return nil
	}
	ok, retry, err := e.limiter.Allow(ctx, "ip:"+endpoint+":"+meta.ClientIP.String(), e.cfg.IPPerMinute, time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Code: ETHROTTLED, Message: "too many requests, try again later", Reason: ReasonRateLimited, RetryAfter: retry}
	}
	return nil
}

// Login checks a password grant and starts a session.
func (a *Auth) Login(ctx context.Context, in LoginInput, meta Meta) (TokenResponse, error) {
	if in.Email == "" || in.Password == "" {
		return TokenResponse{}, Errorf(EINVALID, "email and password are required")
	}
	if len(in.Password) > 1024 {
		return TokenResponse{}, Errorf(EINVALID, "password is longer than 1024 bytes")
	}
	tenant := in.Tenant
	if tenant == "" {
		tenant = a.cfg.DefaultTenant
	}
	email := NormalizeEmail(in.Email)
	fail := func(err *Error, u *User) (TokenResponse, error) {
		ev := event(EventLoginFailure, OutcomeFailure, err.Reason, meta)
		ev.SubjectEmail, ev.TenantSlug = email, tenant
		if u != nil {
			ev.forUser(*u)
		}
		a.audit.recordBestEffort(ctx, ev)
		return TokenResponse{}, err
	}

	if err := a.limitIP(ctx, "token", meta); err != nil {
		if e := (*Error)(nil); errors.As(err, &e) && e.Code == ETHROTTLED {
			return fail(e, nil)
		}
		return TokenResponse{}, err
	}
	if a.limiter == nil {
		return TokenResponse{}, Errorf(EUNAVAILABLE, "rate limiter is not configured")
	}
	account := accountKey(tenant, email)
	attempt, locked, err := a.limiter.ReserveAttempt(ctx, account, a.cfg.LockDuration)
	if err != nil {
		// Fail closed: without the counter no password is checked.
		return TokenResponse{}, err
	}
	if locked > 0 {
		return fail(lockedErr(locked), nil)
	}
	if attempt > a.cfg.MaxAttempts {
		// Concurrent attempts past the limit: refused without a hash, the
		// attempt that reached the limit sets the lock.
		return fail(lockedErr(a.cfg.LockDuration), nil)
	}

	var user *User
	u, err := a.store.UserByEmail(ctx, tenant, email)
	switch {
	case err == nil:
		user = &u
	case !isCode(err, ENOTFOUND):
		a.releaseAttempt(ctx, account)
		return TokenResponse{}, err
	}
	now := a.now()
	if user != nil && user.LockedAt(now) {
		// The durable copy of the lock outlives a Redis restart or FLUSHALL;
		// put it back into Redis so attempts stop counting.
		left := user.LockedUntil.Sub(now)
		_ = a.limiter.Lock(ctx, account, left)
		return fail(lockedErr(left), user)
	}

	reason := ""
	var ok bool
	var newHash string
	err = a.withHashSlot(ctx, func() {
		switch {
		case user == nil:
			reason = ReasonUnknownEmail
		case user.TenantStatus != TenantActive:
			reason = ReasonTenantDisabled
		case user.Status == UserPending:
			reason = ReasonPending
		case user.Status != UserActive:
			reason = ReasonDisabled
		case user.PasswordHash == "":
			reason = ReasonPending
		}
		if reason != "" {
			// Same work as a real check, so timing reveals nothing.
			a.hasher.VerifyDummy(in.Password)
			return
		}
		ok = a.hasher.Verify(user.PasswordHash, in.Password)
		if !ok {
			reason = ReasonBadPassword
			return
		}
		if user.PasswordExpiresAt != nil && !now.Before(*user.PasswordExpiresAt) {
			ok, reason = false, ReasonPasswordExpire
			return
		}
		if a.hasher.NeedsRehash(user.PasswordHash) {
			if h, err := a.hasher.Hash(in.Password); err == nil {
				newHash = h
			}
		}
	})
	if err != nil {
		a.releaseAttempt(ctx, account) // no slot: nothing was verified
		return TokenResponse{}, err
	}
	if !ok {
		if attempt >= a.cfg.MaxAttempts {
			a.lock(ctx, account, user, tenant, email, meta)
		}
		return fail(errBadCredentials(reason), user)
	}

	if err := a.limiter.ResetAttempts(ctx, account); err != nil {
		a.log.WarnContext(ctx, "reset attempt counter failed", "err", err)
	}
	var resp TokenResponse
	err = a.store.InTx(ctx, func(tx Tx) error {
		if err := tx.RecordLogin(ctx, user.ID, now, newHash); err != nil {
			return err
		}
		if user.LockedUntil != nil {
			if err := tx.SetUserLock(ctx, user.ID, nil, user.LockLevel); err != nil {
				return err
			}
		}
		sess := &Session{
			ID:            uuid.New(),
			UserID:        user.ID,
			TenantID:      user.TenantID,
			CreatedAt:     now,
			ExpiresAt:     now.Add(a.cfg.RefreshTTL),
			IdleExpiresAt: minTime(now.Add(a.cfg.RefreshIdleTTL), now.Add(a.cfg.RefreshTTL)),
			LastUsedAt:    now,
			ClientIP:      meta.ip(),
			UserAgent:     Escape(truncate(meta.UserAgent, 512)),
			ClientID:      Escape(truncate(meta.ClientID, 128)),
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		rt, raw, err := newRefreshToken(sess, nil, now)
		if err != nil {
			return err
		}
		if err := tx.CreateRefreshToken(ctx, rt); err != nil {
			return err
		}
		resp, err = a.tokenResponse(*user, *sess, raw, rt.ExpiresAt, now)
		if err != nil {
			return err
		}
		return a.audit.record(ctx, tx, event(EventLoginSuccess, OutcomeSuccess, "", meta).forUser(*user).forSession(sess.ID))
	})
	if err != nil {
		return TokenResponse{}, err
	}
	return resp, nil
}

// releaseAttempt returns an attempt that verified nothing; failing to is
// only logged, the caller's answer is already decided.
func (a *env) releaseAttempt(ctx context.Context, account string) {
	if err := a.limiter.ReleaseAttempt(ctx, account); err != nil {
		a.log.WarnContext(ctx, "release login attempt failed", "err", err)
	}
}

func lockedErr(d time.Duration) *Error {
	return &Error{Code: ETHROTTLED, Message: "too many failed attempts, try again later", Reason: ReasonLocked, RetryAfter: d}
}

// lockDuration escalates: each earlier lock doubles it, up to the cap.
func (e *env) lockDuration(level int) time.Duration {
	d := e.cfg.LockDuration
	for i := 0; i < level && d < e.cfg.LockMaxDuration; i++ {
		d *= 2
	}
	if e.cfg.LockMaxDuration > 0 && d > e.cfg.LockMaxDuration {
		d = e.cfg.LockMaxDuration
	}
	return d
}

// lock locks an account in Redis and, for a real user, in the store too.
func (a *env) lock(ctx context.Context, account string, user *User, tenant, email string, meta Meta) {
	level, err := a.limiter.NextLockLevel(ctx, account, a.cfg.LockLevelTTL)
	if err != nil {
		level = 0
	}
	d := a.lockDuration(level)
	if err := a.limiter.Lock(ctx, account, d); err != nil {
		a.log.WarnContext(ctx, "lock account in limiter failed", "err", err)
	}
	ev := event(EventAccountLocked, OutcomeSuccess, "max_attempts", meta)
	ev.SubjectEmail, ev.TenantSlug = email, tenant
	if user != nil {
		until := a.now().Add(d)
		if err := a.store.SetUserLock(ctx, user.ID, &until, level+1); err != nil {
			a.log.WarnContext(ctx, "persist account lock failed", "err", err)
		}
		ev.forUser(*user)
	}
	a.audit.recordBestEffort(ctx, ev)
}

// newRefreshToken makes a token for sess; it expires with the session's
// absolute or idle end, whichever comes first.
func newRefreshToken(sess *Session, parent *uuid.UUID, now time.Time) (*RefreshToken, string, error) {
	raw, err := token.NewOpaque()
	if err != nil {
		return nil, "", err
	}
	return &RefreshToken{
		ID:        uuid.New(),
		SessionID: sess.ID,
		ParentID:  parent,
		Hash:      token.HashOpaque(raw),
		CreatedAt: now,
		ExpiresAt: minTime(sess.ExpiresAt, sess.IdleExpiresAt),
	}, raw, nil
}

// tokenResponse signs an access token for user in sess.
func (e *env) tokenResponse(u User, sess Session, refresh string, refreshExpires, now time.Time) (TokenResponse, error) {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	access, kid, err := e.keys.sign(token.Claims{
		Issuer:    e.cfg.Issuer,
		Subject:   u.ID.String(),
		Audience:  e.cfg.Audience,
		ID:        uuid.NewString(),
		SessionID: sess.ID.String(),
		TenantID:  u.TenantID.String(),
		Email:     u.Email,
		Roles:     roles,
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: now.Add(e.cfg.AccessTTL),
	})
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{
		AccessToken:            access,
		TokenType:              "Bearer",
		ExpiresIn:              int64(e.cfg.AccessTTL / time.Second),
		IssuedAt:               now.UTC().Format(time.RFC3339),
		KID:                    kid,
		RefreshToken:           refresh,
		RefreshExpiresIn:       int64(refreshExpires.Sub(now) / time.Second),
		PasswordChangeRequired: u.MustChangePassword,
	}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Principal is an authenticated caller: a valid access token whose session,
// user and tenant are all still in good standing.
type Principal struct {
	User    User
	Session Session
	Claims  token.Claims
}

var errBadToken = &Error{Code: EUNAUTHORIZED, Message: "the access token is invalid or expired"}

// Authenticate verifies an access token and re-reads its session and user,
// so a revoked session, disabled user or disabled tenant is refused at once,
// not only when the token expires.
func (a *Auth) Authenticate(ctx context.Context, raw string) (Principal, error) {
	claims, err := a.keys.verifier().Verify(raw)
	if err != nil {
		return Principal{}, errBadToken
	}
	sid, err1 := uuid.Parse(claims.SessionID)
	sub, err2 := uuid.Parse(claims.Subject)
	if err1 != nil || err2 != nil {
		return Principal{}, errBadToken
	}
	u, sess, err := a.store.UserBySession(ctx, sid)
	if err != nil {
		if isCode(err, ENOTFOUND) {
			return Principal{}, errBadToken
		}
		return Principal{}, err
	}
	now := a.now()
	if u.ID != sub || sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) ||
		u.Status != UserActive || u.TenantStatus != TenantActive {
		return Principal{}, errBadToken
	}
	return Principal{User: u, Session: sess, Claims: claims}, nil
}

// errPasswordChangeRequired refuses a seeded admin's token everywhere but
// /me and the password change until the one-time password is replaced.
var errPasswordChangeRequired = &Error{Code: EFORBIDDEN, Message: "the password must be changed before this account can do anything else (POST /api/v1/auth/password/change)"}

// Authorize checks that p may act with role (empty means any authenticated
// user) in tenantID (nil means its own).
func (p Principal) Authorize(role string) error {
	if p.User.MustChangePassword {
		return errPasswordChangeRequired
	}
	if role != "" && !p.User.HasRole(role) {
		return Errorf(EFORBIDDEN, "this action needs the %q role", role)
	}
	return nil
}
