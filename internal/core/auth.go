package core

import (
	"context"
	"strings"
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
	// DeviceToken is the device_token of an earlier successful login, if
	// the client kept it: it buys the client its own lockout budget.
	DeviceToken string
}

// TokenResponse is what a successful login or refresh returns.
type TokenResponse struct {
	AccessToken            string `json:"access_token"`
	TokenType              string `json:"token_type"`
	ExpiresIn              int64  `json:"expires_in"`
	IssuedAt               string `json:"issued_at"`
	KID                    string `json:"kid"`
	RefreshToken           string `json:"refresh_token,omitempty"`
	RefreshExpiresIn       int64  `json:"refresh_expires_in,omitempty"`
	PasswordChangeRequired bool   `json:"password_change_required,omitempty"`
	// DeviceToken comes with password logins only (docs/api.md).
	DeviceToken string `json:"device_token,omitempty"`
	// IDToken and Scope come with tokens of a registered client (the
	// OpenID Connect code flow and its refreshes).
	IDToken string `json:"id_token,omitempty"`
	Scope   string `json:"scope,omitempty"`
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
	ReasonInvalidRequest = "invalid_request"
)

// accountKey names the throttling counter of (tenant, email): variants of
// one email share it, and unknown emails get one exactly like real ones.
func accountKey(tenant, email string) string { return tenant + "\x00" + email }

// limitIP applies the per-IP limit of an endpoint. Callers run it before
// any hashing and before anything they audit, so one client can't buy audit
// rows faster than the limit.
func (e *env) limitIP(ctx context.Context, endpoint string, meta Meta) error {
	if e.cfg.IPPerMinute <= 0 || !meta.ClientIP.IsValid() || e.limiter == nil {
		return nil
	}
	bucket := e.ipBucket(meta.ClientIP)
	ok, retry, err := e.limiter.Allow(ctx, "ip:"+endpoint+":"+bucket, e.cfg.IPPerMinute, time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Code: ETHROTTLED, Message: "too many requests, try again later", Reason: ReasonRateLimited, RetryAfter: retry}
	}
	return nil
}

// limitIPAudited is limitIP with the refusal audited, aggregated per IP.
func (e *env) limitIPAudited(ctx context.Context, endpoint string, ev *AuditEvent, meta Meta) error {
	err := e.limitIP(ctx, endpoint, meta)
	if isCode(err, ETHROTTLED) {
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonRateLimited
		e.audit.recordThrottled(ctx, "ip:"+endpoint+":"+e.ipBucket(meta.ClientIP), ev)
	}
	return err
}

// checkLoginInput validates what a login names before anything is looked
// up: an address, a tenant slug, a printable client_id.
func checkLoginInput(email, tenant string, meta Meta) error {
	if err := checkEmail(email); err != nil {
		return err
	}
	if err := validSlug(tenant); err != nil {
		return err
	}
	return checkClientID(meta.ClientID)
}

// checkClientID bounds what a client says it is: it is recorded, not
// trusted, so it must be short printable ASCII (RFC 6749 appendix A.1).
func checkClientID(id string) error {
	if len(id) > maxClientID || strings.ContainsFunc(id, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		return Errorf(EINVALID, "client_id must be at most %d printable ASCII characters", maxClientID)
	}
	return nil
}

// Login checks a password grant and starts a session.
func (a *Auth) Login(ctx context.Context, in LoginInput, meta Meta) (TokenResponse, error) {
	v, err := a.passwordLogin(ctx, in, meta)
	if err != nil {
		return TokenResponse{}, err
	}
	resp, err := a.startSession(ctx, v.user, meta, sessionSpec{record: v.record})
	if err != nil {
		return TokenResponse{}, err
	}
	resp.DeviceToken = v.deviceToken
	return resp, nil
}

// verifiedLogin is a password login that succeeded: what the way of
// signing in (API session, browser session) needs to finish it.
type verifiedLogin struct {
	user        User
	deviceToken string
	// record writes the login's own changes (last login, a cost upgrade,
	// an ended lock) in the transaction that starts the session.
	record func(ctx context.Context, tx Tx, now time.Time) error
}

// passwordLogin is every password login's check, for the API and the
// hosted pages alike: per-IP limit, input validation, the lockout budget of
// the account and its source, the one bcrypt comparison, and the audit row
// of a failure. It writes nothing on success: the caller starts a session.
// The observer learns how each check ended.
func (e *env) passwordLogin(ctx context.Context, in LoginInput, meta Meta) (verifiedLogin, error) {
	v, err := e.checkLogin(ctx, in, meta)
	e.observeLogin(err)
	return v, err
}

func (e *env) checkLogin(ctx context.Context, in LoginInput, meta Meta) (verifiedLogin, error) {
	if in.Email == "" || in.Password == "" {
		return verifiedLogin{}, Errorf(EINVALID, "email and password are required")
	}
	if len(in.Password) > 1024 {
		return verifiedLogin{}, Errorf(EINVALID, "password is longer than 1024 bytes")
	}
	tenant := e.tenantOrDefault(in.Tenant)
	email := NormalizeEmail(in.Email)
	failure := func(reason string) *AuditEvent {
		return event(EventLoginFailure, OutcomeFailure, reason, meta).forInput(tenant, in.Email)
	}
	if err := e.limitIPAudited(ctx, "token", failure(""), meta); err != nil {
		return verifiedLogin{}, err
	}
	if err := checkLoginInput(in.Email, tenant, meta); err != nil {
		e.audit.recordBestEffort(ctx, failure(ReasonInvalidRequest))
		return verifiedLogin{}, err
	}
	account := accountKey(tenant, email)
	g, err := e.reserveAttempt(ctx, e.loginAttempt(account, in.DeviceToken, meta))
	if err != nil {
		if isCode(err, ETHROTTLED) {
			e.audit.recordThrottled(ctx, "lock:"+account, failure(ReasonLocked))
		}
		return verifiedLogin{}, err
	}
	user, err := e.loginUser(ctx, g, tenant, email)
	if err != nil {
		if isCode(err, ETHROTTLED) {
			e.audit.recordThrottled(ctx, "lock:"+account, failure(ReasonLocked).forUser(*user))
		}
		return verifiedLogin{}, err
	}
	reason, newHash, err := e.verify(ctx, user, in.Password)
	if err != nil {
		g.release(ctx) // no slot: nothing was verified
		return verifiedLogin{}, err
	}
	if reason != "" {
		g.failed(ctx, user, tenant, email, meta)
		ev := failure(reason)
		if user != nil {
			ev.forUser(*user)
		}
		e.audit.recordBestEffort(ctx, ev)
		return verifiedLogin{}, errBadCredentials(reason)
	}
	g.succeeded(ctx)
	u := *user
	return verifiedLogin{
		user:        u,
		deviceToken: e.devices.Issue(account, e.now()),
		record: func(ctx context.Context, tx Tx, now time.Time) error {
			if err := tx.RecordLogin(ctx, u.ID, now, newHash); err != nil {
				return err
			}
			if u.LockedUntil != nil {
				return tx.SetUserLock(ctx, u.ID, nil, u.LockLevel)
			}
			return nil
		},
	}, nil
}

// loginUser loads the account of a login; nil for an unknown email. A lock
// kept in the database refuses the attempt (the user is returned too).
func (e *env) loginUser(ctx context.Context, g *guard, tenant, email string) (*User, error) {
	u, err := e.store.UserByEmail(ctx, tenant, email)
	if isCode(err, ENOTFOUND) {
		return nil, nil
	}
	if err != nil {
		g.release(ctx)
		return nil, err
	}
	if err := g.durableLock(ctx, &u); err != nil {
		if !isCode(err, ETHROTTLED) {
			g.release(ctx)
		}
		return &u, err
	}
	return &u, nil
}

// verify checks the password inside a hashing slot. reason is empty on
// success, else why the login fails (for the audit log only); newHash is a
// rehash at the configured cost when the stored one is cheaper. Every
// failure costs at least one comparison at the configured cost, whatever
// the account, so timing tells nothing.
func (e *env) verify(ctx context.Context, user *User, pw string) (reason, newHash string, err error) {
	now := e.now()
	err = e.withHashSlot(ctx, func() {
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
			e.hasher.VerifyDummy(pw)
			return
		}
		cheaper := e.hasher.NeedsRehash(user.PasswordHash)
		if !e.hasher.Verify(user.PasswordHash, pw) {
			reason = ReasonBadPassword
			if cheaper {
				e.hasher.Pad(user.PasswordHash, pw)
			}
			return
		}
		if user.PasswordExpiresAt != nil && !now.Before(*user.PasswordExpiresAt) {
			reason = ReasonPasswordExpire
			return
		}
		if cheaper {
			if h, err := e.hasher.Hash(pw); err == nil {
				newHash = h
			}
		}
	})
	return reason, newHash, err
}

// sessionSpec is what a way of signing in adds to the session it starts.
type sessionSpec struct {
	// record writes the grant's own changes in the session's transaction
	// (a password login's last-login time; nil for none).
	record func(ctx context.Context, tx Tx, now time.Time) error
	// client, for the code flow, binds the session to a registered client
	// with the granted scope; its tokens then carry client_id and scope,
	// and an ID token when scope has openid.
	client   *Client
	scope    []string
	nonce    string
	authTime time.Time
	browser  *uuid.UUID // the browser session that started it
	// after runs once the session exists (the code records it).
	after func(ctx context.Context, tx Tx, sess Session) error
	// event is the audit row's reason ("" for a password login).
	reason string
}

// startSession is the one step every way of signing in ends with: it
// starts a session for u, runs the grant's writes in the same transaction,
// writes the login_success row and mints the tokens.
func (e *env) startSession(ctx context.Context, u User, meta Meta, spec sessionSpec) (TokenResponse, error) {
	now := e.now()
	expires := now.Add(e.cfg.RefreshTTL)
	if u.MustChangePassword && u.PasswordExpiresAt != nil && u.PasswordExpiresAt.Before(expires) {
		// A session opened with a one-time password ends with it.
		expires = *u.PasswordExpiresAt
	}
	sess := &Session{
		ID:               uuid.New(),
		UserID:           u.ID,
		TenantID:         u.TenantID,
		CreatedAt:        now,
		ExpiresAt:        expires,
		IdleExpiresAt:    minTime(now.Add(e.cfg.RefreshIdleTTL), expires),
		LastUsedAt:       now,
		ClientIP:         meta.ip(),
		UserAgent:        Clean(meta.UserAgent, maxUserAgent),
		ClientID:         Clean(meta.ClientID, maxClientID),
		BrowserSessionID: spec.browser,
	}
	if spec.client != nil {
		at := spec.authTime
		sess.ClientID, sess.ClientBound, sess.Scope, sess.AuthTime = spec.client.ID, true, strings.Join(spec.scope, " "), &at
		meta.ClientID, meta.ClientIDVerified = spec.client.ID, true
	}
	var resp TokenResponse
	err := e.store.InTx(ctx, func(tx Tx) error {
		if spec.record != nil {
			if err := spec.record(ctx, tx, now); err != nil {
				return err
			}
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
		if resp, err = e.tokenResponse(u, *sess, raw, rt.ExpiresAt, now); err != nil {
			return err
		}
		if spec.client != nil {
			if err := e.addIDToken(&resp, u, *sess, *spec.client, spec.nonce, now); err != nil {
				return err
			}
		}
		if spec.after != nil {
			if err := spec.after(ctx, tx, *sess); err != nil {
				return err
			}
		}
		ev := event(EventLoginSuccess, OutcomeSuccess, spec.reason, meta).forUser(u).forSession(sess.ID)
		return e.audit.record(ctx, tx, ev)
	})
	return resp, err
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
	if roles == nil || u.MustChangePassword {
		// Until the password is changed the token grants nothing, and says
		// so, for downstream services that only verify it (docs/api.md).
		roles = []string{}
	}
	claims := token.Claims{
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

		PasswordChange: u.MustChangePassword,
	}
	if sess.ClientBound {
		// RFC 9068 2.2: the client the token was issued to, and its scope.
		claims.ClientID, claims.Scope = sess.ClientID, sess.Scope
	}
	access, kid, err := e.keys.sign(claims)
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
	// Browser is set instead of Session for a signed-in browser of the
	// hosted pages.
	Browser *BrowserSession
}

// sessionID is the id of the session p acts in, of either kind.
func (p Principal) sessionID() uuid.UUID {
	if p.Browser != nil {
		return p.Browser.ID
	}
	return p.Session.ID
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
