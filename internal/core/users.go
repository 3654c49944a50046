package core

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/password"
	"github.com/idp-dev/idp/internal/core/token"
)

// Users manages accounts: creation, registration, seeding, status changes
// and password changes.
type Users struct{ *env }

// UserView is a user as /me, /register and `idp users list` show it.
type UserView struct {
	Sub         string     `json:"sub"`
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	TenantID    string     `json:"tenant_id"`
	Tenant      string     `json:"tenant"`
	Roles       []string   `json:"roles"`
	Status      UserStatus `json:"status"`
	DisplayName string     `json:"display_name"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
	// LockedUntil is shown by `idp users list` only.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// View renders u for callers.
func (u User) View() UserView {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return UserView{
		Sub: u.ID.String(), ID: u.ID.String(), Email: u.Email,
		TenantID: u.TenantID.String(), Tenant: u.TenantSlug,
		Roles: roles, Status: u.Status, DisplayName: u.DisplayName,
		CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt,
	}
}

var roleRE = regexp.MustCompile(`^[a-z][a-z0-9_:.-]{0,63}$`)

// validEmail accepts one plain address (no display name), at most 320 bytes.
func validEmail(email string) error {
	if email == "" {
		return Errorf(EINVALID, "email is required")
	}
	if len(email) > 320 {
		return Errorf(EINVALID, "email is longer than 320 bytes")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") && !strings.HasSuffix(email, "@localhost") {
		return Errorf(EINVALID, "email %q is not a valid address", Escape(email))
	}
	return nil
}

func validRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	seen := map[string]bool{}
	for _, r := range roles {
		if !roleRE.MatchString(r) {
			return nil, Errorf(EINVALID, "role %q is not valid (lowercase letters, digits, _ : . -, up to 64 characters)", Escape(r))
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// CreateInput describes a new user.
type CreateInput struct {
	Tenant      string
	Email       string
	Roles       []string
	DisplayName string
	// Password is optional: without one the user is pending and gets an
	// invite mail with a link to set it.
	Password string
}

// Create makes a user (`idp users create`).
func (us *Users) Create(ctx context.Context, in CreateInput, meta Meta) (UserView, error) {
	return us.create(ctx, in, meta, EventUserCreate)
}

func (us *Users) create(ctx context.Context, in CreateInput, meta Meta, eventName string) (UserView, error) {
	tenant := us.tenantOrDefault(in.Tenant)
	email := NormalizeEmail(in.Email)
	if err := validEmail(email); err != nil {
		return UserView{}, err
	}
	roles, err := validRoles(in.Roles)
	if err != nil {
		return UserView{}, err
	}
	if len(in.DisplayName) > 200 {
		return UserView{}, Errorf(EINVALID, "display_name is longer than 200 bytes")
	}
	t, err := us.store.TenantBySlug(ctx, tenant)
	if err != nil {
		return UserView{}, notFoundAs(err, "tenant %q not found", tenant)
	}
	if t.Status != TenantActive {
		return UserView{}, Errorf(ECONFLICT, "tenant %q is disabled", tenant)
	}
	u := &User{TenantID: t.ID, TenantSlug: t.Slug, TenantStatus: t.Status, Email: email, Roles: roles,
		DisplayName: Escape(in.DisplayName), Status: UserPending}
	if in.Password != "" {
		if err := us.checkPassword(in.Password, email, tenant); err != nil {
			return UserView{}, err
		}
		if u.PasswordHash, err = us.hashPassword(ctx, in.Password); err != nil {
			return UserView{}, err
		}
		u.Status = UserActive
	}
	var invite string
	err = us.store.InTx(ctx, func(tx Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			if isCode(err, ECONFLICT) {
				return Errorf(ECONFLICT, "a user %q already exists in tenant %q", email, tenant)
			}
			return err
		}
		if u.Status == UserPending {
			if invite, err = us.newResetToken(ctx, tx, u.ID, 7*24*time.Hour); err != nil {
				return err
			}
		}
		return us.audit.record(ctx, tx, event(eventName, OutcomeSuccess, "", meta).forUser(*u))
	})
	if err != nil {
		return UserView{}, err
	}
	if invite != "" {
		us.sendMail(ctx, Mail{To: email, Kind: MailInvite, Subject: "You are invited: set your password",
			URL: us.resetURL(invite)}, *u, meta)
	}
	return u.View(), nil
}

// RegisterInput is the body of POST /register.
type RegisterInput struct {
	Tenant      string // optional; must be the caller's own
	Email       string
	Password    string
	Roles       []string
	DisplayName string
}

// Register lets an admin create a user in its own tenant, granting only
// roles it holds itself. Every denial is audited.
func (us *Users) Register(ctx context.Context, p Principal, in RegisterInput, meta Meta) (UserView, error) {
	deny := func(err *Error, reason string) (UserView, error) {
		ev := event(EventRegister, OutcomeFailure, reason, meta).forUser(p.User)
		ev.Actor = p.User.ID.String()
		ev.SubjectID, ev.SubjectEmail = nil, NormalizeEmail(in.Email)
		us.audit.recordBestEffort(ctx, ev)
		return UserView{}, err
	}
	if err := p.Authorize(RoleAdmin); err != nil {
		e := err.(*Error)
		if e == errPasswordChangeRequired {
			return deny(e, "password_change_required")
		}
		return deny(e, "not_admin")
	}
	if in.Tenant != "" && in.Tenant != p.User.TenantSlug {
		return deny(Errorf(EFORBIDDEN, "an admin can only register users in its own tenant"), "other_tenant")
	}
	for _, r := range in.Roles {
		if !p.User.HasRole(r) {
			return deny(Errorf(EFORBIDDEN, "cannot grant role %q: the caller does not hold it", Escape(r)), "role_not_held")
		}
	}
	if meta.Actor == "" {
		meta.Actor = p.User.ID.String()
	}
	return us.create(ctx, CreateInput{Tenant: p.User.TenantSlug, Email: in.Email, Password: in.Password,
		Roles: in.Roles, DisplayName: in.DisplayName}, meta, EventRegister)
}

// SeedResult holds a seeded admin's one-time password: shown once, never
// stored in plaintext.
type SeedResult struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Tenant    string    `json:"tenant"`
	Password  string    `json:"password"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Seed creates the tenant if needed and an admin with a random one-time
// password. It refuses when the tenant already has an admin, unless rotate,
// which gives the seeded admin a new one-time password and revokes its
// sessions.
func (us *Users) Seed(ctx context.Context, tenant, email string, rotate bool, meta Meta) (SeedResult, error) {
	tenant = us.tenantOrDefault(tenant)
	email = NormalizeEmail(email)
	if err := validEmail(email); err != nil {
		return SeedResult{}, err
	}
	if err := validSlug(tenant); err != nil {
		return SeedResult{}, err
	}
	pw, err := password.GenerateFor(24, email, tenant)
	if err != nil {
		return SeedResult{}, err
	}
	hash, err := us.hashPassword(ctx, pw)
	if err != nil {
		return SeedResult{}, err
	}
	now := us.now()
	expires := now.Add(us.cfg.SeedPasswordTTL)
	var res SeedResult
	err = us.store.InTx(ctx, func(tx Tx) error {
		t, err := tx.TenantBySlug(ctx, tenant)
		if isCode(err, ENOTFOUND) {
			t = Tenant{Slug: tenant, Name: tenant, Status: TenantActive}
			if err = tx.CreateTenant(ctx, &t); err == nil {
				err = us.audit.record(ctx, tx, tenantEvent(EventTenantCreate, t, meta))
			}
		}
		if err != nil {
			return err
		}
		if t.Status != TenantActive {
			return Errorf(ECONFLICT, "tenant %q is disabled", tenant)
		}
		var u User
		if rotate {
			u, err = tx.SeededAdmin(ctx, t.ID)
			if err != nil {
				return notFoundAs(err, "tenant %q has no seeded admin to rotate", tenant)
			}
			if err := tx.SetPassword(ctx, u.ID, hash, true, &expires); err != nil {
				return err
			}
			if _, err := tx.RevokeUserSessions(ctx, u.ID, nil, "seed_rotate", now); err != nil {
				return err
			}
			if err := tx.SetUserStatus(ctx, u.ID, UserActive); err != nil {
				return err
			}
		} else {
			has, err := tx.HasAdmin(ctx, t.ID)
			if err != nil {
				return err
			}
			if has {
				return Errorf(ECONFLICT, "tenant %q already has an admin (use --rotate for a new one-time password)", tenant)
			}
			u = User{TenantID: t.ID, TenantSlug: t.Slug, Email: email, PasswordHash: hash, Status: UserActive,
				Roles: []string{RoleAdmin}, MustChangePassword: true, PasswordExpiresAt: &expires, Seeded: true}
			if err := tx.CreateUser(ctx, &u); err != nil {
				if isCode(err, ECONFLICT) {
					return Errorf(ECONFLICT, "a user %q already exists in tenant %q", email, tenant)
				}
				return err
			}
		}
		res = SeedResult{UserID: u.ID.String(), Email: u.Email, Tenant: t.Slug, Password: pw, ExpiresAt: expires}
		reason := "created"
		if rotate {
			reason = "rotated"
		}
		return us.audit.record(ctx, tx, event(EventUserSeed, OutcomeSuccess, reason, meta).forUser(u))
	})
	if err != nil {
		return SeedResult{}, err
	}
	return res, nil
}

// Disable blocks a user and revokes every session in the same transaction.
func (us *Users) Disable(ctx context.Context, tenant, email string, meta Meta) (UserView, error) {
	return us.setStatus(ctx, tenant, email, UserDisabled, EventUserDisable, meta)
}

// Enable returns a disabled user to active.
func (us *Users) Enable(ctx context.Context, tenant, email string, meta Meta) (UserView, error) {
	return us.setStatus(ctx, tenant, email, UserActive, EventUserEnable, meta)
}

func (us *Users) setStatus(ctx context.Context, tenant, email string, status UserStatus, eventName string, meta Meta) (UserView, error) {
	tenant = us.tenantOrDefault(tenant)
	var u User
	err := us.store.InTx(ctx, func(tx Tx) error {
		var err error
		if u, err = findUser(ctx, tx, tenant, email); err != nil {
			return err
		}
		if status == UserActive && u.Status == UserPending {
			return Errorf(ECONFLICT, "user %q is pending: it becomes active when it sets a password", u.Email)
		}
		if err := tx.SetUserStatus(ctx, u.ID, status); err != nil {
			return err
		}
		u.Status = status
		if status == UserDisabled {
			if _, err := tx.RevokeUserSessions(ctx, u.ID, nil, "user_disabled", us.now()); err != nil {
				return err
			}
		}
		return us.audit.record(ctx, tx, event(eventName, OutcomeSuccess, "", meta).forUser(u))
	})
	return u.View(), err
}

// Unlock clears a temporary lock and its counters.
func (us *Users) Unlock(ctx context.Context, tenant, email string, meta Meta) (UserView, error) {
	tenant = us.tenantOrDefault(tenant)
	var u User
	err := us.store.InTx(ctx, func(tx Tx) error {
		var err error
		if u, err = findUser(ctx, tx, tenant, email); err != nil {
			return err
		}
		if err := tx.SetUserLock(ctx, u.ID, nil, 0); err != nil {
			return err
		}
		u.LockedUntil, u.LockLevel = nil, 0
		return us.audit.record(ctx, tx, event(EventAccountUnlocked, OutcomeSuccess, "admin", meta).forUser(u))
	})
	if err != nil {
		return UserView{}, err
	}
	if us.limiter != nil {
		if err := us.limiter.Unlock(ctx, accountKey(tenant, u.Email)); err != nil {
			return UserView{}, err
		}
	}
	return u.View(), nil
}

// List returns users, with lock state, optionally of one tenant.
func (us *Users) List(ctx context.Context, tenant string) ([]UserView, error) {
	var tid *uuid.UUID
	if tenant != "" {
		t, err := us.store.TenantBySlug(ctx, tenant)
		if err != nil {
			return nil, notFoundAs(err, "tenant %q not found", tenant)
		}
		tid = &t.ID
	}
	users, err := us.store.ListUsers(ctx, tid)
	if err != nil {
		return nil, err
	}
	now := us.now()
	out := make([]UserView, 0, len(users))
	for _, u := range users {
		v := u.View()
		if u.LockedAt(now) {
			v.LockedUntil = u.LockedUntil
		}
		out = append(out, v)
	}
	return out, nil
}

// ChangePassword replaces the caller's password after checking the current
// one, revokes every other session and mails a notice. Checking the current
// password is a verification like a login: it counts against the account's
// attempts and locks it the same way, so a stolen access token is no
// unthrottled way to guess the password.
func (us *Users) ChangePassword(ctx context.Context, p Principal, current, next string, meta Meta) error {
	if current == "" || next == "" {
		return Errorf(EINVALID, "current_password and new_password are required")
	}
	if len(current) > 1024 {
		return Errorf(EINVALID, "password is longer than 1024 bytes")
	}
	if err := us.checkPassword(next, p.User.Email, p.User.TenantSlug); err != nil {
		return err
	}
	deny := func(e *Error) error {
		ev := event(EventPasswordChange, OutcomeFailure, e.Reason, meta).forUser(p.User).forSession(p.Session.ID)
		us.audit.recordBestEffort(ctx, ev)
		return e
	}
	account := accountKey(p.User.TenantSlug, p.User.Email)
	attempt, locked, err := us.limiter.ReserveAttempt(ctx, account, us.cfg.LockDuration)
	if err != nil {
		return err
	}
	now := us.now()
	switch {
	case locked > 0:
		return deny(lockedErr(locked))
	case attempt > us.cfg.MaxAttempts:
		return deny(lockedErr(us.cfg.LockDuration))
	case p.User.LockedAt(now):
		return deny(lockedErr(p.User.LockedUntil.Sub(now)))
	}
	var ok bool
	var hash string
	var hashErr error
	err = us.withHashSlot(ctx, func() {
		if ok = us.hasher.Verify(p.User.PasswordHash, current); ok {
			hash, hashErr = us.hasher.Hash(next)
		}
	})
	if err != nil {
		us.releaseAttempt(ctx, account)
		return err
	}
	if !ok {
		if attempt >= us.cfg.MaxAttempts {
			us.lock(ctx, account, &p.User, p.User.TenantSlug, p.User.Email, meta)
		}
		return deny(&Error{Code: EDENIED, Message: "the current password is wrong", Reason: ReasonBadPassword})
	}
	if p.User.PasswordExpiresAt != nil && !now.Before(*p.User.PasswordExpiresAt) {
		// An expired one-time password proves nothing any more.
		return deny(&Error{Code: EDENIED, Message: "the current password is wrong", Reason: ReasonPasswordExpire})
	}
	if err := us.limiter.ResetAttempts(ctx, account); err != nil {
		us.log.WarnContext(ctx, "reset attempt counter failed", "err", err)
	}
	if hashErr != nil {
		return &Error{Code: EINTERNAL, Message: "could not hash password", Err: hashErr}
	}
	err = us.store.InTx(ctx, func(tx Tx) error {
		if err := tx.SetPassword(ctx, p.User.ID, hash, false, nil); err != nil {
			return err
		}
		sid := p.Session.ID
		if _, err := tx.RevokeUserSessions(ctx, p.User.ID, &sid, "password_changed", us.now()); err != nil {
			return err
		}
		return us.audit.record(ctx, tx, event(EventPasswordChange, OutcomeSuccess, "", meta).forUser(p.User).forSession(sid))
	})
	if err != nil {
		return err
	}
	us.sendMail(ctx, Mail{To: p.User.Email, Kind: MailPasswordChanged, Subject: "Your password was changed"}, p.User, meta)
	return nil
}

// newResetToken voids older tokens of the user and stores a new one.
func (e *env) newResetToken(ctx context.Context, tx Tx, userID uuid.UUID, ttl time.Duration) (string, error) {
	raw, err := token.NewOpaque()
	if err != nil {
		return "", err
	}
	now := e.now()
	if err := tx.VoidResetTokens(ctx, userID, now); err != nil {
		return "", err
	}
	rt := &ResetToken{ID: uuid.New(), UserID: userID, Hash: token.HashOpaque(raw), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := tx.CreateResetToken(ctx, rt); err != nil {
		return "", err
	}
	return raw, nil
}

// resetURL builds the reset link from the configured issuer only, never
// from request headers.
func (e *env) resetURL(raw string) string {
	return strings.TrimRight(e.cfg.Issuer, "/") + "/password/reset?token=" + raw
}

// sendMail hands m to the mailer; a failure is logged and audited, never
// lost silently, and never fails the caller's request.
func (e *env) sendMail(ctx context.Context, m Mail, u User, meta Meta) {
	if e.mailer == nil {
		return
	}
	m.CreatedAt = e.now()
	if err := e.mailer.Send(ctx, m); err != nil {
		e.log.ErrorContext(ctx, "mail delivery failed", "kind", m.Kind, "request_id", meta.RequestID, "err", err)
		e.audit.recordBestEffort(ctx, event(EventMailFailure, OutcomeFailure, m.Kind, meta).forUser(u))
	}
}
