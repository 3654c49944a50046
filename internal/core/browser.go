package core

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/token"
)

// Browser runs the sessions of signed-in browsers: the SSO session behind
// the hosted pages' cookie (docs/auth/idp.md, "Browser sessions"). A
// browser session is not an API session: it carries no tokens, only the
// proof that this browser signed in, which the pages (and, through the
// authorization endpoint, apps) rely on.
type Browser struct{ *env }

// BrowserSignInInput is a sign-in from the hosted page.
type BrowserSignInInput struct {
	LoginInput
	// Remember ("Keep me signed in") makes the session last
	// browser.remember_ttl with a persistent cookie.
	Remember bool
	// Current is the cookie of the browser's session, if it had one: a
	// sign-in always starts a new session (no fixation) and ends that one.
	Current string
}

// BrowserSignIn is a successful sign-in.
type BrowserSignIn struct {
	// Cookie is the value for the session cookie, shown once.
	Cookie string
	// CookieMaxAge is zero for a session cookie (without Remember).
	CookieMaxAge time.Duration
	// DeviceToken is for the device cookie.
	DeviceToken string
	Principal   BrowserPrincipal
}

// BrowserPrincipal is a signed-in browser: its session and user, both in
// good standing.
type BrowserPrincipal struct {
	User    User
	Session BrowserSession
}

// Principal is the browser as an authenticated caller of the services
// that take one (the password change).
func (p BrowserPrincipal) Principal() Principal {
	return Principal{User: p.User, Browser: &p.Session}
}

// errSignedOut answers a cookie that names no live session.
var errSignedOut = &Error{Code: EUNAUTHORIZED, Message: "not signed in"}

// browserTouchEvery bounds the writes of idle tracking: a session's last
// use is recorded at most this often.
const browserTouchEvery = time.Minute

// SignIn checks a password like any login and starts a browser session.
func (b *Browser) SignIn(ctx context.Context, in BrowserSignInInput, meta Meta) (BrowserSignIn, error) {
	v, err := b.passwordLogin(ctx, in.LoginInput, meta)
	if err != nil {
		return BrowserSignIn{}, err
	}
	raw, err := token.NewOpaque()
	if err != nil {
		return BrowserSignIn{}, err
	}
	now := b.now()
	ttl := b.cfg.BrowserSessionTTL
	if in.Remember {
		ttl = b.cfg.BrowserRememberTTL
	}
	sess := BrowserSession{
		ID: uuid.New(), UserID: v.user.ID, TenantID: v.user.TenantID, Hash: token.HashOpaque(raw),
		CreatedAt: now, AuthTime: now, ExpiresAt: now.Add(ttl),
		IdleExpiresAt: minTime(now.Add(b.idleTTL(in.Remember)), now.Add(ttl)), LastUsedAt: now,
		Remember: in.Remember, ClientIP: meta.ip(), UserAgent: Clean(meta.UserAgent, maxUserAgent),
	}
	err = b.store.InTx(ctx, func(tx Tx) error {
		if err := v.record(ctx, tx, now); err != nil {
			return err
		}
		if in.Current != "" {
			if old, _, err := tx.BrowserSessionByHash(ctx, token.HashOpaque(in.Current)); err == nil && old.UserID == v.user.ID {
				if _, err := tx.RevokeSession(ctx, old.ID, "replaced", now); err != nil {
					return err
				}
			} else if err != nil && !isCode(err, ENOTFOUND) {
				return err
			}
		}
		if err := tx.CreateBrowserSession(ctx, &sess); err != nil {
			return err
		}
		ev := event(EventLoginSuccess, OutcomeSuccess, "browser", meta).forUser(v.user).forSession(sess.ID)
		return b.audit.record(ctx, tx, ev)
	})
	if err != nil {
		return BrowserSignIn{}, err
	}
	out := BrowserSignIn{Cookie: raw, DeviceToken: v.deviceToken, Principal: BrowserPrincipal{User: v.user, Session: sess}}
	if in.Remember {
		out.CookieMaxAge = ttl
	}
	return out, nil
}

// idleTTL is how long a browser session may go unused. A remembered
// session ("Keep me signed in") is meant to survive days away, so its idle
// end is its absolute end.
func (b *Browser) idleTTL(remember bool) time.Duration {
	if remember {
		return b.cfg.BrowserRememberTTL
	}
	return b.cfg.BrowserIdleTTL
}

// Resolve finds the signed-in browser of a cookie: its session must be
// live, its user active and its tenant active. Using a session moves its
// idle end (recorded at most once a minute).
func (b *Browser) Resolve(ctx context.Context, cookie string) (BrowserPrincipal, error) {
	if cookie == "" || len(cookie) > 128 {
		return BrowserPrincipal{}, errSignedOut
	}
	sess, u, err := b.store.BrowserSessionByHash(ctx, token.HashOpaque(cookie))
	if isCode(err, ENOTFOUND) {
		return BrowserPrincipal{}, errSignedOut
	}
	if err != nil {
		return BrowserPrincipal{}, err
	}
	now := b.now()
	if !sess.ActiveAt(now) || u.Status != UserActive || u.TenantStatus != TenantActive {
		return BrowserPrincipal{}, errSignedOut
	}
	if now.Sub(sess.LastUsedAt) >= browserTouchEvery {
		idle := minTime(now.Add(b.idleTTL(sess.Remember)), sess.ExpiresAt)
		if err := b.store.TouchBrowserSession(ctx, sess.ID, now, idle); err != nil && !isCode(err, ENOTFOUND) {
			b.log.WarnContext(ctx, "record browser session use failed", "err", err)
		} else if err == nil {
			sess.LastUsedAt, sess.IdleExpiresAt = now, idle
		}
	}
	return BrowserPrincipal{User: u, Session: sess}, nil
}

// SignOut ends the browser session and every API session it started.
func (b *Browser) SignOut(ctx context.Context, p BrowserPrincipal, meta Meta) error {
	return b.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.RevokeSession(ctx, p.Session.ID, "logout", b.now())
		if err != nil || n == 0 {
			return err
		}
		ev := event(EventLogout, OutcomeSuccess, "browser", meta).forUser(p.User).forSession(p.Session.ID)
		return b.audit.record(ctx, tx, ev)
	})
}

// SignOutEverywhere ends every session of the user, this browser's too.
func (b *Browser) SignOutEverywhere(ctx context.Context, p BrowserPrincipal, meta Meta) (RevokeResult, error) {
	var res RevokeResult
	err := b.store.InTx(ctx, func(tx Tx) error {
		var err error
		if res.Revoked, err = tx.RevokeUserSessions(ctx, p.User.ID, nil, "logout_all", b.now()); err != nil {
			return err
		}
		ev := event(EventLogout, OutcomeSuccess, "all", meta).forUser(p.User).forSession(p.Session.ID)
		return b.audit.record(ctx, tx, ev)
	})
	return res, err
}

// SessionInfo is one live session as the account page lists it.
// The admin API shows it as it is.
type SessionInfo struct {
	ID       uuid.UUID `json:"id"`
	Browser  bool      `json:"browser"` // a signed-in browser, else an app (API) session
	ClientID string    `json:"client_id"`
	// ClientName is the registered app's name for a session of the code
	// flow ("" for a password-API session, whose client_id is free text).
	ClientName string    `json:"client_name,omitempty"`
	ClientIP   string    `json:"client_ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsed   time.Time `json:"last_used_at"`
	Current    bool      `json:"-"`
}

// Sessions lists the user's live browser and app sessions, newest use
// first, marking the caller's own.
func (b *Browser) Sessions(ctx context.Context, p BrowserPrincipal) ([]SessionInfo, error) {
	api, browsers, err := b.store.ListLiveSessions(ctx, p.User.ID, b.now())
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(api)+len(browsers))
	for _, s := range browsers {
		out = append(out, SessionInfo{ID: s.ID, Browser: true, ClientIP: s.ClientIP, UserAgent: s.UserAgent,
			CreatedAt: s.CreatedAt, LastUsed: s.LastUsedAt, Current: s.ID == p.Session.ID})
	}
	names := map[string]string{}
	for _, s := range api {
		info := SessionInfo{ID: s.ID, ClientID: s.ClientID, ClientIP: s.ClientIP, UserAgent: s.UserAgent,
			CreatedAt: s.CreatedAt, LastUsed: s.LastUsedAt}
		if s.ClientBound {
			name, seen := names[s.ClientID]
			if !seen {
				if c, err := b.store.ClientByID(ctx, s.ClientID); err == nil {
					name = c.Name
				} else if !isCode(err, ENOTFOUND) {
					return nil, err
				}
				names[s.ClientID] = name
			}
			info.ClientName = name
		}
		out = append(out, info)
	}
	return out, nil
}

// RevokeOwn ends one of the caller's own sessions (a browser or app
// session, never another user's: such an id is "not found").
func (b *Browser) RevokeOwn(ctx context.Context, p BrowserPrincipal, id string, meta Meta) error {
	sid, err := uuid.Parse(id)
	if err != nil {
		return Errorf(EINVALID, "session id is not a UUID")
	}
	return b.store.InTx(ctx, func(tx Tx) error {
		owner, err := sessionOwner(ctx, tx, sid)
		if err != nil {
			return err
		}
		if owner != p.User.ID {
			return Errorf(ENOTFOUND, "no such session")
		}
		n, err := tx.RevokeSession(ctx, sid, "user_revoke", b.now())
		if err != nil || n == 0 {
			return err
		}
		ev := event(EventSessionsRevoke, OutcomeSuccess, "own", meta).forUser(p.User).forSession(sid)
		ev.Actor = p.User.ID.String()
		return b.audit.record(ctx, tx, ev)
	})
}

// sessionOwner finds whose session (of either kind) id is.
func sessionOwner(ctx context.Context, tx Tx, id uuid.UUID) (uuid.UUID, error) {
	s, err := tx.SessionByID(ctx, id)
	if err == nil {
		return s.UserID, nil
	}
	if !isCode(err, ENOTFOUND) {
		return uuid.Nil, err
	}
	bs, err := tx.BrowserSessionByID(ctx, id)
	if err != nil {
		return uuid.Nil, notFoundAs(err, "no such session")
	}
	return bs.UserID, nil
}
