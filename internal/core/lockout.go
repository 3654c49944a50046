package core

import (
	"context"
	"net/netip"
	"time"
)

// Lockout (docs/auth/idp.md, "Lockout and rate limits"): failures are
// counted per (account, source) and lock that pair at
// lockout.max_attempts, so one attacker can't lock the owner out; the
// account as a whole locks only past lockout.account_max_attempts failures
// from all sources, and even then a source that proves an earlier success
// (a device token) or holds a session keeps its own budget.

// Lock reasons, for the audit log.
const (
	ReasonSourceMaxAttempts  = "max_attempts"
	ReasonAccountMaxAttempts = "account_max_attempts"
)

// accountLockGranularity coarsens the Retry-After of an account-wide lock:
// telling everyone its exact end would tell an attacker when to strike again.
const accountLockGranularity = 5 * time.Minute

// sourceKey names a source in counters and locks by digest only, so no
// address or token is ever stored in Redis keys or in the database.
func sourceKey(kind, id string) string { return kind + ":" + digestHex(id) }

// ipBucket is the client a per-IP limit counts: an IPv4 address, or the
// IPv6 prefix of ratelimit.ipv6_prefix bits (one subscriber usually holds a
// whole /64). IPv4-mapped IPv6 counts as the IPv4 address.
func (e *env) ipBucket(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	a = a.Unmap()
	if a.Is6() {
		bits := e.cfg.IPv6Prefix
		if bits <= 0 || bits > 128 {
			bits = 64
		}
		p, err := a.WithZone("").Prefix(bits)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// loginAttempt decides whose budget a login spends: the device token's,
// when the client sent a valid one for this account, else its IP bucket's.
func (e *env) loginAttempt(account, deviceToken string, meta Meta) Attempt {
	if deviceToken != "" {
		if id, ok := e.devices.Verify(deviceToken, account, e.now(), e.cfg.DeviceTokenTTL); ok {
			return Attempt{Account: account, Source: sourceKey("dev", id), Trusted: true}
		}
	}
	return Attempt{Account: account, Source: sourceKey("ip", e.ipBucket(meta.ClientIP))}
}

// lockedErr is the answer to an attempt refused by a lock. A source's own
// lock may tell its exact end; the account-wide lock tells only a coarse one.
func lockedErr(d time.Duration, account bool) *Error {
	if account {
		d = (d + accountLockGranularity - 1) / accountLockGranularity * accountLockGranularity
	}
	return &Error{Code: ETHROTTLED, Message: "too many failed attempts, try again later", Reason: ReasonLocked, RetryAfter: d}
}

// guard is one password verification's claim on the lockout budget.
type guard struct {
	e   *env
	a   Attempt
	res Reservation
}

// reserveAttempt claims one attempt of a's budget before any hashing, or
// refuses with the lock in force. Without the limiter nothing is verified
// (fail closed).
func (e *env) reserveAttempt(ctx context.Context, a Attempt) (*guard, error) {
	if e.limiter == nil {
		return nil, Errorf(EUNAVAILABLE, "rate limiter is not configured")
	}
	res, err := e.limiter.ReserveAttempt(ctx, a, e.cfg.LockDuration, e.cfg.LockLevelTTL)
	if err != nil {
		return nil, err
	}
	switch {
	case res.Locked > 0:
		return nil, lockedErr(res.Locked, res.AccountLocked)
	case res.SourceCount > e.cfg.MaxAttempts:
		// Concurrent attempts past the limit: refused without a hash; the
		// attempt that reached the limit sets the lock.
		return nil, lockedErr(e.cfg.LockDuration, false)
	case !a.Trusted && res.AccountCount > e.cfg.AccountMaxAttempts:
		return nil, lockedErr(e.cfg.LockDuration, true)
	}
	return &guard{e: e, a: a, res: res}, nil
}

// durableLock applies the database copy of the locks that outlive a Redis
// restart or FLUSHALL, putting them back into the limiter.
func (g *guard) durableLock(ctx context.Context, u *User) error {
	now := g.e.now()
	if !g.a.Trusted && u.LockedAt(now) {
		left := u.LockedUntil.Sub(now)
		_ = g.e.limiter.Lock(ctx, g.a, true, left)
		return lockedErr(left, true)
	}
	until, err := g.e.store.SourceLock(ctx, u.ID, g.a.Source)
	if err != nil {
		return err
	}
	if until != nil && until.After(now) {
		left := until.Sub(now)
		_ = g.e.limiter.Lock(ctx, g.a, false, left)
		return lockedErr(left, false)
	}
	return nil
}

// release gives back an attempt that verified nothing; failing to is only
// logged, the caller's answer is already decided.
func (g *guard) release(ctx context.Context) {
	if err := g.e.limiter.ReleaseAttempt(ctx, g.a); err != nil {
		g.e.log.WarnContext(ctx, "release login attempt failed", "err", err)
	}
}

// succeeded clears the source's counter (the account's runs out with its
// window, see Limiter.ResetAttempts).
func (g *guard) succeeded(ctx context.Context) {
	if err := g.e.limiter.ResetAttempts(ctx, g.a); err != nil {
		g.e.log.WarnContext(ctx, "reset attempt counters failed", "err", err)
	}
}

// failed locks the source when this failure reached lockout.max_attempts,
// and the whole account when it reached lockout.account_max_attempts. u is
// nil for unknown emails, whose locks live in the limiter only.
func (g *guard) failed(ctx context.Context, u *User, tenant, email string, meta Meta) {
	if g.res.SourceCount >= g.e.cfg.MaxAttempts {
		g.lock(ctx, false, u, tenant, email, meta)
	}
	if g.res.AccountCount >= g.e.cfg.AccountMaxAttempts {
		g.lock(ctx, true, u, tenant, email, meta)
	}
}

func (g *guard) lock(ctx context.Context, account bool, u *User, tenant, email string, meta Meta) {
	e := g.e
	level, err := e.limiter.NextLockLevel(ctx, g.a, account, e.cfg.LockLevelTTL)
	if err != nil {
		level = 0
	}
	d := e.lockDuration(level)
	if err := e.limiter.Lock(ctx, g.a, account, d); err != nil {
		e.log.WarnContext(ctx, "lock in limiter failed", "err", err)
	}
	reason, scope := ReasonSourceMaxAttempts, LockSource
	if account {
		reason, scope = ReasonAccountMaxAttempts, LockAccount
	}
	e.observe.Lockout(scope)
	ev := event(EventAccountLocked, OutcomeSuccess, reason, meta).forInput(tenant, email)
	if u != nil {
		until := e.now().Add(d)
		if account {
			err = e.store.SetUserLock(ctx, u.ID, &until, level+1)
		} else {
			err = e.store.SetSourceLock(ctx, u.ID, g.a.Source, until)
		}
		if err != nil {
			e.log.WarnContext(ctx, "persist lock failed", "err", err)
		}
		ev.forUser(*u)
	}
	e.audit.recordBestEffort(ctx, ev)
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

// clearLocks ends every lock of u, in the store (inside tx) and then in
// the limiter: a completed reset and `idp users unlock` do it.
func (e *env) clearLocks(ctx context.Context, tx Tx, u User) error {
	if err := tx.SetUserLock(ctx, u.ID, nil, 0); err != nil {
		return err
	}
	return tx.ClearSourceLocks(ctx, u.ID)
}

func (e *env) clearLimiterLocks(ctx context.Context, u User) error {
	if e.limiter == nil {
		return nil
	}
	return e.limiter.Unlock(ctx, accountKey(u.TenantSlug, u.Email))
}
