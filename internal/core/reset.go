package core

import (
	"context"
	"errors"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
)

// Resets runs the password reset flow.
type Resets struct{ *env }

// resetsPerAccount bounds reset mails per account per hour, silently: the
// answer must not reveal whether the account exists.
const resetsPerAccount = 5

// Initiate mails a reset link when the account exists and may reset; it
// answers the same way whatever the email.
func (r *Resets) Initiate(ctx context.Context, tenant, email string, meta Meta) error {
	if email == "" {
		return Errorf(EINVALID, "email is required")
	}
	if len(email) > 320 {
		return Errorf(EINVALID, "email is longer than 320 bytes")
	}
	if err := r.limitIP(ctx, "reset", meta); err != nil {
		return err
	}
	tenant = r.tenantOrDefault(tenant)
	email = NormalizeEmail(email)
	ev := event(EventResetInitiate, OutcomeSuccess, "", meta)
	ev.SubjectEmail, ev.TenantSlug = email, tenant
	if r.limiter != nil {
		ok, _, err := r.limiter.Allow(ctx, "reset:"+accountKey(tenant, email), resetsPerAccount, time.Hour)
		if err != nil {
			return err
		}
		if !ok {
			ev.Outcome, ev.Reason = OutcomeFailure, ReasonRateLimited
			r.audit.recordBestEffort(ctx, ev)
			return nil
		}
	}
	u, err := r.store.UserByEmail(ctx, tenant, email)
	switch {
	case isCode(err, ENOTFOUND):
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonUnknownEmail
	case err != nil:
		return err
	case u.TenantStatus != TenantActive:
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonTenantDisabled
	case u.Status != UserActive && u.Status != UserPending:
		ev.Outcome, ev.Reason = OutcomeFailure, ReasonDisabled
	}
	if ev.Outcome == OutcomeFailure {
		if u.ID != [16]byte{} {
			ev.forUser(u)
		}
		r.audit.recordBestEffort(ctx, ev)
		return nil
	}
	var raw string
	err = r.store.InTx(ctx, func(tx Tx) error {
		var err error
		if raw, err = r.newResetToken(ctx, tx, u.ID, r.cfg.ResetTTL); err != nil {
			return err
		}
		return r.audit.record(ctx, tx, ev.forUser(u))
	})
	if err != nil {
		return err
	}
	r.sendMail(ctx, Mail{To: u.Email, Kind: MailPasswordReset, Subject: "Reset your password", URL: r.resetURL(raw)}, u, meta)
	return nil
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
	if err := r.limitIP(ctx, "reset", meta); err != nil {
		return err
	}
	if len(raw) > 512 {
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
		ev := event(EventResetComplete, OutcomeFailure, ReasonUnknownToken, meta)
		r.audit.recordBestEffort(ctx, ev)
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
		if err := tx.SetUserLock(ctx, u.ID, nil, 0); err != nil {
			return err
		}
		if _, err := tx.RevokeUserSessions(ctx, u.ID, nil, "password_reset", now); err != nil {
			return err
		}
		return r.audit.record(ctx, tx, event(EventResetComplete, OutcomeSuccess, "", meta).forUser(u))
	})
	if isCode(err, ENOTFOUND) {
		r.audit.recordBestEffort(ctx, event(EventResetComplete, OutcomeFailure, ReasonUnknownToken, meta))
		return errBadResetToken
	}
	if err != nil {
		return err
	}
	if r.limiter != nil {
		if err := r.limiter.Unlock(ctx, accountKey(u.TenantSlug, u.Email)); err != nil {
			r.log.WarnContext(ctx, "clear lock in limiter failed", "err", err)
		}
	}
	return nil
}
