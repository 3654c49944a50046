package core

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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

// maxDisplayName bounds display names, in bytes.
const maxDisplayName = 200

// checkDisplayName refuses what would let a name pose as another or break
// the lines it is shown on: controls and bidi overrides. Joiners stay
// allowed: emoji and several scripts need them.
func checkDisplayName(name string) error { return checkText("display_name", name, maxDisplayName) }

// checkText bounds a free-text field shown to people (a display name, a
// role's description) and refuses controls and bidi characters in it. The
// error's Reason names the field, for faces that mark it.
func checkText(field, s string, maxBytes int) error {
	if len(s) > maxBytes {
		return &Error{Code: EINVALID, Message: fmt.Sprintf("%s is longer than %d bytes", field, maxBytes), Reason: field}
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp)
	}) {
		return &Error{Code: EINVALID, Message: field + " holds a control or bidi character", Reason: field}
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

// Create makes a user as the operator (`idp users create`): the same
// rules as every other way, Admin.CreateUser with Operator(in.Tenant).
func (us *Users) Create(ctx context.Context, in CreateInput, meta Meta) (UserView, error) {
	s, err := us.authorize(ctx, Operator(in.Tenant), meta)
	if err != nil {
		return UserView{}, err
	}
	u, err := us.createUser(ctx, s, in, EventUserCreate)
	return u.View(), err
}

// RegisterInput is the body of POST /register.
type RegisterInput struct {
	Tenant      string // optional; must be the caller's own
	Email       string
	Password    string
	Roles       []string
	DisplayName string
}

// Register lets an admin create a user in its own tenant, granting roles
// of the tenant's catalogue (admin only as an admin: Admin.CreateUser's
// rules). Every refusal is audited as a register failure.
func (us *Users) Register(ctx context.Context, p Principal, in RegisterInput, meta Meta) (UserView, error) {
	deny := func(err *Error, reason string) (UserView, error) {
		ev := event(EventRegister, OutcomeFailure, reason, meta).forUser(p.User)
		ev.Actor = p.User.ID.String()
		ev.SubjectID = nil
		ev.forInput(p.User.TenantSlug, in.Email)
		ev.TenantID = &p.User.TenantID
		us.audit.recordBestEffort(ctx, ev)
		return UserView{}, err
	}
	s, err := us.authorize(ctx, TenantAdmin(p), meta)
	if err != nil {
		return deny(err.(*Error), reasonOf(err))
	}
	if in.Tenant != "" && in.Tenant != p.User.TenantSlug {
		return deny(Errorf(EFORBIDDEN, "an admin can only register users in its own tenant"), "other_tenant")
	}
	u, err := us.createUser(ctx, s, CreateInput{Tenant: p.User.TenantSlug, Email: in.Email, Password: in.Password,
		Roles: in.Roles, DisplayName: in.DisplayName}, EventRegister)
	if e := (*Error)(nil); errors.As(err, &e) && e.Code != EUNAVAILABLE && e.Code != EINTERNAL {
		reason := string(e.Code)
		if e.Reason == ReasonNotInCatalogue {
			reason = e.Reason
		}
		return deny(e, reason)
	}
	return u.View(), err
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

// SeedInput is `idp users seed`.
type SeedInput struct {
	Tenant, Email string
	// Rotate gives the existing seeded admin (who must be Email) a new
	// one-time password; Enable also returns a disabled one to active.
	Rotate, Enable bool
}

// Seed creates the tenant if needed and an admin with a random one-time
// password. It refuses when the tenant already has an admin, unless
// rotate, which gives the seeded admin a new one-time password and revokes
// its sessions.
func (us *Users) Seed(ctx context.Context, in SeedInput, meta Meta) (SeedResult, error) {
	tenant := us.tenantOrDefault(in.Tenant)
	if err := checkEmail(in.Email); err != nil {
		return SeedResult{}, err
	}
	email := NormalizeEmail(in.Email)
	if err := validSlug(tenant); err != nil {
		return SeedResult{}, err
	}
	if in.Enable && !in.Rotate {
		return SeedResult{}, Errorf(EINVALID, "--enable goes with --rotate")
	}
	pw, err := password.GenerateFor(24, email, tenant)
	if err != nil {
		return SeedResult{}, err
	}
	hash, err := us.hashPassword(ctx, pw)
	if err != nil {
		return SeedResult{}, err
	}
	expires := us.now().Add(us.cfg.SeedPasswordTTL)
	var res SeedResult
	err = us.store.InTx(ctx, func(tx Tx) error {
		t, err := us.seedTenant(ctx, tx, tenant, meta)
		if err != nil {
			return err
		}
		var u User
		if in.Rotate {
			u, err = us.rotateSeeded(ctx, tx, t, email, hash, expires, in.Enable)
		} else {
			u, err = us.createSeeded(ctx, tx, t, email, hash, expires)
		}
		if err != nil {
			return err
		}
		res = SeedResult{UserID: u.ID.String(), Email: u.Email, Tenant: t.Slug, Password: pw, ExpiresAt: expires}
		reason := "created"
		if in.Rotate {
			reason = "rotated"
		}
		return us.audit.record(ctx, tx, event(EventUserSeed, OutcomeSuccess, reason, meta).forUser(u))
	})
	if err != nil {
		return SeedResult{}, err
	}
	return res, nil
}

// seedTenant finds the tenant of a seed, creating it when it is missing.
func (us *Users) seedTenant(ctx context.Context, tx Tx, slug string, meta Meta) (Tenant, error) {
	t, err := tx.TenantBySlug(ctx, slug)
	if isCode(err, ENOTFOUND) {
		t = Tenant{Slug: slug, Name: slug, Status: TenantActive}
		if err = us.createTenant(ctx, tx, &t); err == nil {
			err = us.audit.record(ctx, tx, tenantEvent(EventTenantCreate, t, meta))
		}
	}
	if err != nil {
		return Tenant{}, err
	}
	if t.Status != TenantActive {
		return Tenant{}, Errorf(ECONFLICT, "tenant %q is disabled", slug)
	}
	return t, nil
}

func (us *Users) createSeeded(ctx context.Context, tx Tx, t Tenant, email, hash string, expires time.Time) (User, error) {
	has, err := tx.HasAdmin(ctx, t.ID)
	if err != nil {
		return User{}, err
	}
	if has {
		return User{}, Errorf(ECONFLICT, "tenant %q already has an admin (use --rotate for a new one-time password)", t.Slug)
	}
	u := User{TenantID: t.ID, TenantSlug: t.Slug, Email: email, PasswordHash: hash, Status: UserActive,
		Roles: []string{RoleAdmin}, MustChangePassword: true, PasswordExpiresAt: &expires, Seeded: true}
	if err := tx.CreateUser(ctx, &u); err != nil {
		if isCode(err, ECONFLICT) {
			return User{}, Errorf(ECONFLICT, "a user %q already exists in tenant %q", email, t.Slug)
		}
		return User{}, err
	}
	return u, nil
}

// rotateSeeded gives the seeded admin, who must be email, a new one-time
// password and ends its sessions. A disabled admin stays disabled unless
// enable: whoever disabled it may have had a reason.
func (us *Users) rotateSeeded(ctx context.Context, tx Tx, t Tenant, email, hash string, expires time.Time, enable bool) (User, error) {
	u, err := tx.SeededAdmin(ctx, t.ID)
	if err != nil {
		return User{}, notFoundAs(err, "tenant %q has no seeded admin to rotate", t.Slug)
	}
	if u.Email != email {
		return User{}, Errorf(ECONFLICT, "%s is not the seeded admin of tenant %q: --rotate takes the seeded admin's email", Escape(email), t.Slug)
	}
	if err := tx.SetPassword(ctx, u.ID, hash, true, &expires); err != nil {
		return User{}, err
	}
	if _, err := tx.RevokeUserSessions(ctx, u.ID, nil, "seed_rotate", us.now()); err != nil {
		return User{}, err
	}
	if enable && u.Status != UserActive {
		if err := tx.SetUserStatus(ctx, u.ID, UserActive); err != nil {
			return User{}, err
		}
		u.Status = UserActive
	}
	return u, nil
}

// Disable, Enable and Unlock are the operator's (`idp users disable`):
// Admin's methods of the same name with Operator(tenant), by email.
func (us *Users) Disable(ctx context.Context, tenant, email string, meta Meta) (UserView, error) {
	v, err := (&Admin{us.env}).Disable(ctx, Operator(tenant), ByEmail(email), meta)
	return v.UserView, err
}

// Enable returns a disabled user to active.
func (us *Users) Enable(ctx context.Context, tenant, email string, meta Meta) (UserView, error) {
	v, err := (&Admin{us.env}).Enable(ctx, Operator(tenant), ByEmail(email), meta)
	return v.UserView, err
}

// Unlock clears a temporary lock and its counters.
func (us *Users) Unlock(ctx context.Context, tenant, email string, meta Meta) (UserView, error) {
	v, err := (&Admin{us.env}).Unlock(ctx, Operator(tenant), ByEmail(email), meta)
	return v.UserView, err
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
// budget (the session is its source) and locks the same way, so a stolen
// access token is no unthrottled way to guess the password.
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
	sid := p.sessionID()
	deny := func(e *Error) error {
		ev := event(EventPasswordChange, OutcomeFailure, e.Reason, meta).forUser(p.User).forSession(sid)
		us.audit.recordBestEffort(ctx, ev)
		return e
	}
	g, err := us.reserveAttempt(ctx, Attempt{Account: accountKey(p.User.TenantSlug, p.User.Email),
		Source: sourceKey("sess", sid.String()), Trusted: true})
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) && e.Code == ETHROTTLED {
			return deny(e)
		}
		return err
	}
	if err := g.durableLock(ctx, &p.User); err != nil {
		if e := (*Error)(nil); errors.As(err, &e) && e.Code == ETHROTTLED {
			return deny(e)
		}
		g.release(ctx)
		return err
	}
	var ok bool
	var hash string
	var hashErr error
	err = us.withHashSlot(ctx, func() {
		cheaper := us.hasher.NeedsRehash(p.User.PasswordHash)
		if ok = us.hasher.Verify(p.User.PasswordHash, current); ok {
			hash, hashErr = us.hasher.Hash(next)
		} else if cheaper {
			us.hasher.Pad(p.User.PasswordHash, current)
		}
	})
	if err != nil {
		g.release(ctx)
		return err
	}
	now := us.now()
	if !ok {
		g.failed(ctx, &p.User, p.User.TenantSlug, p.User.Email, meta)
		return deny(&Error{Code: EDENIED, Message: "the current password is wrong", Reason: ReasonBadPassword})
	}
	if p.User.PasswordExpiresAt != nil && !now.Before(*p.User.PasswordExpiresAt) {
		// An expired one-time password proves nothing any more.
		return deny(&Error{Code: EDENIED, Message: "the current password is wrong", Reason: ReasonPasswordExpire})
	}
	g.succeeded(ctx)
	if hashErr != nil {
		return &Error{Code: EINTERNAL, Message: "could not hash password", Err: hashErr}
	}
	err = us.store.InTx(ctx, func(tx Tx) error {
		if err := tx.SetPassword(ctx, p.User.ID, hash, false, nil); err != nil {
			return err
		}
		if _, err := tx.RevokeUserSessions(ctx, p.User.ID, &sid, "password_changed", now); err != nil {
			return err
		}
		if p.User.MustChangePassword && p.Browser == nil {
			// The session was cut to the one-time password's life; it now
			// gets the life of any other.
			end := p.Session.CreatedAt.Add(us.cfg.RefreshTTL)
			if err := tx.SetSessionExpiry(ctx, sid, end, minTime(now.Add(us.cfg.RefreshIdleTTL), end)); err != nil {
				return err
			}
		}
		if err := us.queueMail(ctx, tx, Mail{To: p.User.Email, Kind: MailPasswordChanged, Subject: "Your password was changed"}); err != nil {
			return err
		}
		return us.audit.record(ctx, tx, event(EventPasswordChange, OutcomeSuccess, "", meta).forUser(p.User).forSession(sid))
	})
	if err != nil {
		return err
	}
	us.wakeMail()
	return nil
}

// Invites: how long the link works, and its subject.
const (
	inviteTTL     = 7 * 24 * time.Hour
	inviteSubject = "You are invited: set your password"
)

// newResetToken voids older tokens of the same kind of the user and stores
// a new one.
func (e *env) newResetToken(ctx context.Context, tx Tx, userID uuid.UUID, kind string, ttl time.Duration) (string, error) {
	raw, err := token.NewOpaque()
	if err != nil {
		return "", err
	}
	now := e.now()
	if err := tx.VoidResetTokens(ctx, userID, kind, now); err != nil {
		return "", err
	}
	rt := &ResetToken{ID: uuid.New(), UserID: userID, Kind: kind, Hash: token.HashOpaque(raw), CreatedAt: now, ExpiresAt: now.Add(ttl)}
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
