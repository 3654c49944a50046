package core

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/token"
)

// Resets runs the password reset flow.
type Resets struct{ *env }

// resetsPerAccount bounds reset mails per account per hour, silently: the
// answer must not reveal whether the account exists. A pending user gets
// its invite again instead, at most invitesPerAccount times an hour.
const (
	resetsPerAccount  = 5
	invitesPerAccount = 1
)

// Initiate mails a reset link when the account exists and may reset (a
// pending user gets a fresh invite instead, and its first invite stays
// valid); it answers the same way, after the same database work, whatever
// the email: one lookup, one rate-limit count, one write statement.
func (r *Resets) Initiate(ctx context.Context, tenant, email string, meta Meta) error {
	if email == "" {
		return Errorf(EINVALID, "email is required")
	}
	tenant = r.tenantOrDefault(tenant)
	ev := event(EventResetInitiate, OutcomeSuccess, "", meta).forInput(tenant, email)
	if err := r.limitIPAudited(ctx, "reset", ev, meta); err != nil {
		return err
	}
	if err := checkEmail(email); err != nil {
		return r.auditInvalid(ctx, ev, err)
	}
	if err := validSlug(tenant); err != nil {
		return r.auditInvalid(ctx, ev, err)
	}
	email = NormalizeEmail(email)
	u, err := r.store.UserByEmail(ctx, tenant, email)
	found := err == nil
	if err != nil && !isCode(err, ENOTFOUND) {
		return err
	}
	kind, limit := TokenReset, resetsPerAccount
	switch {
	case !found:
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonUnknownEmail
	case u.TenantStatus != TenantActive:
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonTenantDisabled
	case u.Status == UserPending:
		kind, limit = TokenInvite, invitesPerAccount
		ev.Reason = "invite_resent"
	case u.Status != UserActive:
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonDisabled
	}
	if found {
		ev.forUser(u)
	}
	ok := true
	if r.limiter != nil {
		if ok, _, err = r.limiter.Allow(ctx, "reset:"+accountKey(tenant, email), limit, time.Hour); err != nil {
			return err
		}
	}
	if !ok && ev.Outcome == OutcomeSuccess {
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonRateLimited
	}
	req, err := r.resetRequest(u, kind, ev)
	if err != nil {
		return err
	}
	if err := r.store.RecordResetRequest(ctx, req); err != nil {
		return err
	}
	if req.UserID != nil {
		r.wakeMail()
	}
	return nil
}

// resetRequest builds the write of Initiate. The token and the sealed mail
// are made for every email, so each request costs the same; they are only
// stored when the request succeeds.
func (r *Resets) resetRequest(u User, kind string, ev *AuditEvent) (ResetRequest, error) {
	raw, err := token.NewOpaque()
	if err != nil {
		return ResetRequest{}, err
	}
	now := r.now()
	ttl, m := r.cfg.ResetTTL, Mail{To: u.Email, Kind: MailPasswordReset, Subject: "Reset your password", URL: r.resetURL(raw)}
	if kind == TokenInvite {
		ttl, m.Kind, m.Subject = inviteTTL, MailInvite, inviteSubject
	}
	om, err := r.sealMail(m)
	if err != nil {
		return ResetRequest{}, err
	}
	req := ResetRequest{
		Token: &ResetToken{ID: uuid.New(), UserID: u.ID, Kind: kind, Hash: token.HashOpaque(raw), CreatedAt: now, ExpiresAt: now.Add(ttl)},
		Mail:  om,
		Event: r.audit.prepare(ev),
	}
	if ev.Outcome == OutcomeSuccess {
		id := u.ID
		req.UserID = &id
		if kind == TokenReset {
			req.VoidKind = TokenReset // a newer reset link voids the older one
		}
	}
	return req, nil
}

func (e *env) auditInvalid(ctx context.Context, ev *AuditEvent, err error) error {
	ev.Outcome, ev.Reason = OutcomeFailure, ReasonInvalidRequest
	e.audit.recordBestEffort(ctx, ev)
	return err
}

// errBadResetToken is the one answer for unknown, used, voided and expired
// reset tokens.
var errBadResetToken = &Error{Code: EDENIED, Message: "the reset token is invalid or expired"}

// errPeek rolls back the read-only look at a reset token.
var errPeek = errors.New("peek")

// Complete sets a new password with a reset token: it activates a pending
// user, clears any lock, revokes every session and does not log in. The
// token is spent atomically, so of many concurrent completes one succeeds.
func (r *Resets) Complete(ctx context.Context, raw, newPassword string, meta Meta) error {
	if raw == "" || newPassword == "" {
		return Errorf(EINVALID, "token and new_password are required")
	}
	if len(newPassword) > 1024 {
		return Errorf(EINVALID, "password is longer than 1024 bytes")
	}
	failure := event(EventResetComplete, OutcomeFailure, ReasonUnknownToken, meta)
	if err := r.limitIPAudited(ctx, "reset", failure, meta); err != nil {
		return err
	}
	if len(raw) > 512 {
		r.audit.recordBestEffort(ctx, failure)
		return errBadResetToken
	}
	hash := token.HashOpaque(raw)
	// Look first without spending (the transaction always rolls back), so a
	// password the policy refuses doesn't burn the token, and bcrypt never
	// runs while a connection is held.
	var u User
	err := r.store.InTx(ctx, func(tx Tx) error {
		rt, err := tx.UseResetToken(ctx, hash, r.now())
		if err != nil {
			return err
		}
		if u, err = tx.UserByID(ctx, rt.UserID); err != nil {
			return err
		}
		return errPeek
	})
	if isCode(err, ENOTFOUND) {
		r.audit.recordBestEffort(ctx, failure)
		return errBadResetToken
	}
	if !errors.Is(err, errPeek) {
		return err
	}
	if err := r.checkPassword(newPassword, u.Email, u.TenantSlug); err != nil {
		return err
	}
	pwHash, err := r.hashPassword(ctx, newPassword)
	if err != nil {
		return err
	}
	now := r.now()
	err = r.store.InTx(ctx, func(tx Tx) error {
		rt, err := tx.UseResetToken(ctx, hash, now)
		if err != nil {
			return err
		}
		if u, err = tx.UserByID(ctx, rt.UserID); err != nil {
			return err
		}
		if u.Status == UserDisabled || u.Status == UserLocked || u.TenantStatus != TenantActive {
			return errBadResetToken
		}
		if err := tx.SetPassword(ctx, u.ID, pwHash, false, nil); err != nil {
			return err
		}
		if u.Status == UserPending {
			if err := tx.SetUserStatus(ctx, u.ID, UserActive); err != nil {
				return err
			}
		}
		if err := r.clearLocks(ctx, tx, u); err != nil {
			return err
		}
		// The person proved they read mail at the address; any other link
		// still out (an invite, an older reset) is spent with this one.
		if err := tx.MarkEmailVerified(ctx, u.ID, now); err != nil {
			return err
		}
		if err := tx.VoidResetTokens(ctx, u.ID, "", now); err != nil {
			return err
		}
		if _, err := tx.RevokeUserSessions(ctx, u.ID, nil, "password_reset", now); err != nil {
			return err
		}
		return r.audit.record(ctx, tx, event(EventResetComplete, OutcomeSuccess, rt.Kind, meta).forUser(u))
	})
	if isCode(err, ENOTFOUND) {
		r.audit.recordBestEffort(ctx, failure)
		return errBadResetToken
	}
	if err != nil {
		return err
	}
	if err := r.clearLimiterLocks(ctx, u); err != nil {
		r.log.WarnContext(ctx, "clear lock in limiter failed", "err", err)
	}
	return nil
}
