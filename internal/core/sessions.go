package core

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/token"
)

// Sessions rotates refresh tokens and revokes sessions.
type Sessions struct{ *env }

// Refresh reasons, for the audit log.
const (
	ReasonUnknownToken   = "unknown_token"
	ReasonSessionRevoked = "session_revoked"
	ReasonSessionExpired = "session_expired"
	ReasonReuse          = "reuse_detected"
	ReasonUserInactive   = "user_inactive"
)

func errBadGrant(reason string) *Error {
	return &Error{Code: EDENIED, Message: "the refresh token is invalid, expired or revoked", Reason: reason}
}

// errAlreadySpent signals, inside the rotation transaction, that the token
// was spent before: the transaction rolls back and the replay path runs.
var errAlreadySpent = errors.New("refresh token already spent")

// Refresh spends a refresh token and returns its child pair. The spend and
// the child's insert commit together; the child pair, sealed under a key only
// the presented token's holder can derive, commits with them, so a retry
// inside tokens.refresh_grace (two tabs, a lost response, a crash) gets the
// same pair back. A spent token presented later is reuse: the whole session
// is revoked.
func (s *Sessions) Refresh(ctx context.Context, raw string, meta Meta) (TokenResponse, error) {
	return s.RefreshFor(ctx, raw, nil, meta)
}

// ReasonOtherClient: a refresh token presented by a client it wasn't
// issued to (or, for a client's token, without that client's
// authentication).
const ReasonOtherClient = "other_client"

// clientMismatch reports whether client (nil: none authenticated) may not
// use a token of sess: a registered client's tokens need that client; the
// password API's need none.
func clientMismatch(sess Session, client *Client) bool {
	if sess.ClientBound {
		return client == nil || client.ID != sess.ClientID
	}
	return client != nil
}

// RefreshFor is Refresh at the OAuth token endpoint, for the client that
// authenticated there (nil when none did).
func (s *Sessions) RefreshFor(ctx context.Context, raw string, client *Client, meta Meta) (TokenResponse, error) {
	resp, replayed, err := s.refresh(ctx, raw, client, meta)
	s.observeRefresh(replayed, err)
	return resp, err
}

// refresh is RefreshFor; replayed says the answer is the pair of an
// earlier rotation, given again inside the grace window.
func (s *Sessions) refresh(ctx context.Context, raw string, client *Client, meta Meta) (_ TokenResponse, replayed bool, _ error) {
	if raw == "" {
		return notReplay(TokenResponse{}, Errorf(EINVALID, "refresh_token is required"))
	}
	// A confidential client proved its secret: its refreshes come from its
	// backend's IP for all its users, so the per-IP limit is for everyone
	// else (the password API's clients, public OAuth clients).
	if client == nil || client.Public {
		if err := s.limitIPAudited(ctx, "refresh", event(EventRefreshFailure, OutcomeFailure, "", meta), meta); err != nil {
			return notReplay(TokenResponse{}, err)
		}
	}
	if len(raw) > 512 {
		return notReplay(s.refreshFailure(ctx, errBadGrant(ReasonUnknownToken), nil, meta))
	}
	hash := token.HashOpaque(raw)
	var resp TokenResponse
	var failed *Error
	var subject *User
	err := s.store.InTx(ctx, func(tx Tx) error {
		rt, sess, user, err := tx.SpendRefreshToken(ctx, hash, s.now())
		if isCode(err, ENOTFOUND) {
			return errAlreadySpent
		}
		if err != nil {
			return err
		}
		now := s.now()
		subject = &user
		switch {
		case sess.RevokedAt != nil:
			failed = errBadGrant(ReasonSessionRevoked)
		case !sess.ActiveAt(now) || !now.Before(rt.ExpiresAt):
			failed = errBadGrant(ReasonSessionExpired)
		case user.Status != UserActive:
			failed = errBadGrant(ReasonUserInactive)
		case user.TenantStatus != TenantActive:
			failed = errBadGrant(ReasonTenantDisabled)
		case clientMismatch(sess, client):
			failed = errBadGrant(ReasonOtherClient)
		}
		if failed != nil {
			return failed // rolls the spend back: a dead token stays as it was
		}
		sess.IdleExpiresAt = minTime(now.Add(s.cfg.RefreshIdleTTL), sess.ExpiresAt)
		child, childRaw, err := newRefreshToken(&sess, &rt.ID, now)
		if err != nil {
			return err
		}
		resp, err = s.tokenResponse(user, sess, childRaw, child.ExpiresAt, now)
		if err != nil {
			return err
		}
		if sess.ClientBound {
			if err := s.addIDToken(&resp, user, sess, *client, "", now); err != nil {
				return err
			}
		}
		plain, err := json.Marshal(resp)
		if err != nil {
			return err
		}
		replay, err := token.SealForHolder(raw, plain)
		if err != nil {
			return err
		}
		ev := s.audit.prepare(event(EventRefresh, OutcomeSuccess, "", meta).forUser(user).forSession(sess.ID))
		err = tx.StoreRotation(ctx, child, replay, now, sess.IdleExpiresAt, ev)
		if isCode(err, ENOTFOUND) {
			// A revocation committed while this refresh waited for the
			// session: it wins, and nothing of this rotation survives.
			failed = errBadGrant(ReasonSessionRevoked)
			return failed
		}
		return err
	})
	switch {
	case err == nil:
		return resp, false, nil
	case failed != nil:
		return notReplay(s.refreshFailure(ctx, failed, subject, meta))
	case errors.Is(err, errAlreadySpent):
		return s.replayOrReuse(ctx, raw, hash, client, meta)
	default:
		return notReplay(TokenResponse{}, err)
	}
}

// notReplay passes on an answer that is not a replay.
func notReplay(resp TokenResponse, err error) (TokenResponse, bool, error) { return resp, false, err }

// replayOrReuse answers a token that is not (or no longer) unspent;
// replayed says the answer is the child pair given again.
func (s *Sessions) replayOrReuse(ctx context.Context, raw string, hash []byte, client *Client, meta Meta) (TokenResponse, bool, error) {
	rt, sess, err := s.store.RefreshTokenByHash(ctx, hash)
	if isCode(err, ENOTFOUND) {
		return notReplay(s.refreshFailure(ctx, errBadGrant(ReasonUnknownToken), nil, meta))
	}
	if err != nil {
		return notReplay(TokenResponse{}, err)
	}
	if clientMismatch(sess, client) {
		return notReplay(s.refreshFailureSession(ctx, errBadGrant(ReasonOtherClient), sess, meta))
	}
	now := s.now()
	if rt.SpentAt == nil {
		// Spent by a transaction that then rolled back: the token is live
		// again, but we don't loop; the client may simply retry.
		return notReplay(TokenResponse{}, &Error{Code: EUNAVAILABLE, Message: "refresh raced another request, retry", RetryAfter: time.Second})
	}
	if sess.RevokedAt != nil {
		return notReplay(s.refreshFailureSession(ctx, errBadGrant(ReasonSessionRevoked), sess, meta))
	}
	if now.Sub(*rt.SpentAt) <= s.cfg.RefreshGrace && rt.Replay != nil {
		plain, err := token.OpenForHolder(raw, rt.Replay)
		if err == nil {
			var resp TokenResponse
			if err := json.Unmarshal(plain, &resp); err == nil {
				// A second tab or a retry: fine, but worth a row, since a
				// thief replaying a token inside the window looks the same.
				ev := s.sessionEvent(ctx, s.store, event(EventRefreshReplay, OutcomeSuccess, "grace_window", meta), sess)
				s.audit.recordBestEffort(ctx, ev)
				return resp, true, nil
			}
		}
		return notReplay(s.refreshFailureSession(ctx, errBadGrant(ReasonUnknownToken), sess, meta))
	}
	// Reuse after the grace window: someone else may hold the family.
	var revoked int
	err = s.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.RevokeSession(ctx, sess.ID, ReasonReuse, now)
		if err != nil {
			return err
		}
		revoked = n
		if n == 0 {
			return nil
		}
		ev := s.sessionEvent(ctx, tx, event(EventRefreshReuse, OutcomeFailure, ReasonReuse, meta), sess)
		return s.audit.record(ctx, tx, ev)
	})
	if err != nil {
		return notReplay(TokenResponse{}, err)
	}
	if revoked == 0 {
		return notReplay(s.refreshFailureSession(ctx, errBadGrant(ReasonSessionRevoked), sess, meta))
	}
	return notReplay(TokenResponse{}, errBadGrant(ReasonReuse))
}

func (s *Sessions) refreshFailure(ctx context.Context, e *Error, u *User, meta Meta) (TokenResponse, error) {
	ev := event(EventRefreshFailure, OutcomeFailure, e.Reason, meta)
	if u != nil {
		ev.forUser(*u)
	}
	s.audit.recordBestEffort(ctx, ev)
	return TokenResponse{}, e
}

func (s *Sessions) refreshFailureSession(ctx context.Context, e *Error, sess Session, meta Meta) (TokenResponse, error) {
	ev := s.sessionEvent(ctx, s.store, event(EventRefreshFailure, OutcomeFailure, e.Reason, meta), sess)
	s.audit.recordBestEffort(ctx, ev)
	return TokenResponse{}, e
}

// Logout revokes the session of a refresh token. Unknown or already revoked
// tokens succeed too (RFC 7009): the caller's goal, a dead token, holds.
func (s *Sessions) Logout(ctx context.Context, raw string, meta Meta) error {
	if raw == "" {
		return Errorf(EINVALID, "refresh_token is required")
	}
	if len(raw) > 512 {
		return nil
	}
	_, sess, err := s.store.RefreshTokenByHash(ctx, token.HashOpaque(raw))
	if isCode(err, ENOTFOUND) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.revokeSession(ctx, sess, "logout", EventLogout, meta)
}

// LogoutAll revokes every session of the caller. A token whose password
// must change first is refused here as everywhere but /me and the change.
func (s *Sessions) LogoutAll(ctx context.Context, p Principal, meta Meta) error {
	if err := p.Authorize(""); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.RevokeUserSessions(ctx, p.User.ID, nil, "logout_all", s.now())
		if err != nil {
			return err
		}
		ev := event(EventLogout, OutcomeSuccess, "all", meta).forUser(p.User).forSession(p.Session.ID)
		ev.Reason = "all:" + strconv.Itoa(n)
		return s.audit.record(ctx, tx, ev)
	})
}

func (s *Sessions) revokeSession(ctx context.Context, sess Session, reason, eventName string, meta Meta) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.RevokeSession(ctx, sess.ID, reason, s.now())
		if err != nil || n == 0 {
			return err
		}
		ev := s.sessionEvent(ctx, tx, event(eventName, OutcomeSuccess, reason, meta), sess)
		return s.audit.record(ctx, tx, ev)
	})
}

// RevokeResult says how many sessions a revocation ended.
type RevokeResult struct {
	Revoked int `json:"revoked"`
}

// RevokeUser revokes every session of one user (`idp tokens revoke
// --email`): Admin.RevokeSessions as the operator.
func (s *Sessions) RevokeUser(ctx context.Context, tenant, email string, meta Meta) (RevokeResult, error) {
	return (&Admin{s.env}).RevokeSessions(ctx, Operator(tenant), ByEmail(email), "", meta)
}

// RevokeSessionID revokes one session by id (`idp tokens revoke --session`).
func (s *Sessions) RevokeSessionID(ctx context.Context, sid string, meta Meta) (RevokeResult, error) {
	id, err := uuid.Parse(sid)
	if err != nil {
		return RevokeResult{}, Errorf(EINVALID, "session id %q is not a UUID", sid)
	}
	var res RevokeResult
	err = s.store.InTx(ctx, func(tx Tx) error {
		// The id may name an API session or a signed-in browser (whose
		// API sessions end with it).
		sess, err := tx.SessionByID(ctx, id)
		if isCode(err, ENOTFOUND) {
			var b BrowserSession
			if b, err = tx.BrowserSessionByID(ctx, id); err == nil {
				sess = Session{ID: b.ID, UserID: b.UserID, TenantID: b.TenantID}
			}
		}
		if err != nil {
			return notFoundAs(err, "session %s not found", id)
		}
		res.Revoked, err = tx.RevokeSession(ctx, sess.ID, "admin_revoke", s.now())
		if err != nil {
			return err
		}
		ev := s.sessionEvent(ctx, tx, event(EventSessionsRevoke, OutcomeSuccess, "session", meta), sess)
		return s.audit.record(ctx, tx, ev)
	})
	return res, err
}

// RevokeTenant revokes every session of a tenant (`idp tokens revoke --tenant T --all`).
func (s *Sessions) RevokeTenant(ctx context.Context, slug string, meta Meta) (RevokeResult, error) {
	var res RevokeResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		t, err := tx.TenantBySlug(ctx, slug)
		if err != nil {
			return notFoundAs(err, "tenant %q not found", slug)
		}
		res.Revoked, err = tx.RevokeTenantSessions(ctx, t.ID, "admin_revoke", s.now())
		if err != nil {
			return err
		}
		ev := event(EventSessionsRevoke, OutcomeSuccess, "tenant", meta)
		ev.TenantID, ev.TenantSlug = &t.ID, t.Slug
		return s.audit.record(ctx, tx, ev)
	})
	return res, err
}

// sessionEvent names the session's user in ev, email and tenant included,
// so `idp audit list --email` finds events that start from a session.
func (e *env) sessionEvent(ctx context.Context, q Tx, ev *AuditEvent, sess Session) *AuditEvent {
	if u, err := q.UserByID(ctx, sess.UserID); err == nil {
		ev.forUser(u)
	} else {
		uid, tid := sess.UserID, sess.TenantID
		ev.SubjectID, ev.TenantID = &uid, &tid
	}
	return ev.forSession(sess.ID)
}

func (e *env) tenantOrDefault(slug string) string {
	if slug == "" {
		return e.cfg.DefaultTenant
	}
	return slug
}
