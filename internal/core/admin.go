package core

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Admin is tenant administration: the users, sessions, audit log and
// settings of one tenant, for its admins (the admin API and pages) and for
// the operator at the shell (the CLI). Both call the same methods, so every
// rule exists once (docs/auth/idp.md, "Tenant administration").
type Admin struct{ *env }

// Actor is who runs an administrative action: the operator at the
// server's shell, who may act in any tenant, or a signed-in tenant admin,
// who acts only in its own tenant and only while CanAdminister holds.
type Actor struct {
	principal *Principal
	tenant    string
}

// Operator is the operator at the shell (the CLI) acting in tenant ("" is
// tenants.default).
func Operator(tenant string) Actor { return Actor{tenant: tenant} }

// TenantAdmin is p acting through the admin API or pages.
func TenantAdmin(p Principal) Actor { return Actor{principal: &p} }

// CanAdminister reports whether u may administer its tenant now: active,
// in an active tenant, holding admin, with no password change pending. The
// user is re-read on every request, so taking admin away or disabling the
// user ends its administration at once, whatever its tokens say.
func CanAdminister(u User) bool {
	return u.Status == UserActive && u.TenantStatus == TenantActive && u.HasRole(RoleAdmin) && !u.MustChangePassword
}

// adminScope is an authorized action: the tenant it touches and, for a
// tenant admin, who acts (nil for the operator).
type adminScope struct {
	tenant Tenant
	by     *User
	meta   Meta
}

// Authorization refusals, with the reason the audit log records.
var (
	errNotAdmin = &Error{Code: EFORBIDDEN, Message: `this action needs the "admin" role in the caller's tenant`, Reason: "not_admin"}
	errInactive = &Error{Code: EFORBIDDEN, Message: "this account can't administer its tenant", Reason: "inactive"}
	errNoSuch   = &Error{Code: ENOTFOUND, Message: "no such user"}
)

// authorize checks act and returns its scope. A refusal is an *Error with
// its Reason set; the caller audits it.
func (e *env) authorize(ctx context.Context, act Actor, meta Meta) (adminScope, error) {
	if p := act.principal; p != nil {
		u := p.User
		switch {
		case u.MustChangePassword:
			err := *errPasswordChangeRequired
			err.Reason = "password_change_required"
			return adminScope{}, &err
		case u.Status != UserActive || u.TenantStatus != TenantActive:
			return adminScope{}, errInactive
		case !u.HasRole(RoleAdmin):
			return adminScope{}, errNotAdmin
		}
		if meta.Actor == "" {
			meta.Actor = u.ID.String()
		}
		t := Tenant{ID: u.TenantID, Slug: u.TenantSlug, Status: u.TenantStatus}
		return adminScope{tenant: t, by: &u, meta: meta}, nil
	}
	slug := e.tenantOrDefault(act.tenant)
	if err := validSlug(slug); err != nil {
		return adminScope{}, err
	}
	t, err := e.store.TenantBySlug(ctx, slug)
	if err != nil {
		return adminScope{}, notFoundAs(err, "tenant %q not found", slug)
	}
	return adminScope{tenant: t, meta: meta}, nil
}

// authorizeFor is authorize with a refusal audited as admin_denied, the
// reason naming why and what was asked ("not_admin:users.list").
func (e *env) authorizeFor(ctx context.Context, act Actor, action string, meta Meta) (adminScope, error) {
	s, err := e.authorize(ctx, act, meta)
	if err != nil && act.principal != nil {
		ev := event(EventAdminDenied, OutcomeFailure, reasonOf(err)+":"+action, meta).forUser(act.principal.User)
		ev.Actor = act.principal.User.ID.String()
		e.audit.recordBestEffort(ctx, ev)
	}
	return s, err
}

func reasonOf(err error) string {
	if e, ok := err.(*Error); ok && e.Reason != "" {
		return e.Reason
	}
	return string(ErrorCode(err))
}

// deny audits a refusal of a rule (another tenant's user, a grant of admin
// by a non-admin, an admin disabling itself) and returns err.
func (s adminScope) deny(ctx context.Context, e *env, action string, subject *User, err *Error) error {
	if s.by == nil {
		return err
	}
	ev := event(EventAdminDenied, OutcomeFailure, err.Reason+":"+action, s.meta)
	// Only a subject of the admin's own tenant is named: this row is in
	// that tenant's log, and another tenant's user must not show there.
	if subject != nil && subject.TenantID == s.tenant.ID {
		ev.forUser(*subject)
	}
	ev.TenantID, ev.TenantSlug = &s.tenant.ID, s.tenant.Slug
	e.audit.recordBestEffort(ctx, ev)
	return err
}

// read audits a tenant admin's (or the operator's) read: who looked at
// what.
func (s adminScope) read(ctx context.Context, e *env, what string, subject *User) {
	ev := event(EventAdminRead, OutcomeSuccess, what, s.meta)
	if subject != nil {
		ev.forUser(*subject)
	}
	ev.TenantID, ev.TenantSlug = &s.tenant.ID, s.tenant.Slug
	e.audit.recordBestEffort(ctx, ev)
}

// UserRef names a user: by id (the API and pages) or by email (the CLI).
type UserRef struct {
	ID    string
	Email string
}

// ByID and ByEmail build a UserRef.
func ByID(id string) UserRef       { return UserRef{ID: id} }
func ByEmail(email string) UserRef { return UserRef{Email: email} }

// target finds the user ref names in the scope's tenant. Another tenant's
// user is "no such user", exactly like one that doesn't exist (and the
// attempt is audited).
func (e *env) target(ctx context.Context, s adminScope, action string, ref UserRef) (User, error) {
	if ref.ID == "" {
		u, err := e.store.UserByEmail(ctx, s.tenant.Slug, NormalizeEmail(ref.Email))
		if err != nil {
			return User{}, notFoundAs(err, "no user %q in tenant %q", Escape(NormalizeEmail(ref.Email)), s.tenant.Slug)
		}
		return u, nil
	}
	id, err := uuid.Parse(ref.ID)
	if err != nil {
		return User{}, Errorf(EINVALID, "user id %q is not a UUID", Clean(ref.ID, 64))
	}
	u, err := e.store.UserByID(ctx, id)
	if isCode(err, ENOTFOUND) {
		return User{}, errNoSuch
	}
	if err != nil {
		return User{}, err
	}
	if u.TenantID != s.tenant.ID {
		deny := &Error{Code: ENOTFOUND, Message: errNoSuch.Message, Reason: "other_tenant"}
		return User{}, s.deny(ctx, e, action, &u, deny)
	}
	return u, nil
}

// AdminUser is a user as the admin API and pages show it: /me's fields
// and the state only an administrator needs.
type AdminUser struct {
	UserView
	// LockedUntil is set while a temporary lock is in force.
	LockedUntil            *time.Time `json:"locked_until"`
	EmailVerifiedAt        *time.Time `json:"email_verified_at"`
	PasswordChangeRequired bool       `json:"password_change_required"`
}

func (e *env) adminView(u User) AdminUser {
	v := AdminUser{UserView: u.View(), EmailVerifiedAt: u.EmailVerifiedAt, PasswordChangeRequired: u.MustChangePassword}
	if u.LockedAt(e.now()) {
		v.LockedUntil = u.LockedUntil
	}
	return v
}

// UserQuery selects a page of a tenant's users.
type UserQuery struct {
	Status      string // "" for any
	Role        string // "" for any
	EmailPrefix string
	Cursor      string // Next of the previous page
	Limit       int    // 0: DefaultPageSize; at most MaxPageSize
}

// Page sizes of the admin lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// UserPage is one page of users; Next continues it ("" on the last page).
type UserPage struct {
	Users []AdminUser `json:"users"`
	Next  string      `json:"next_cursor"`
}

type userCursor struct {
	Email string    `json:"e"`
	ID    uuid.UUID `json:"i"`
}

// Users lists the tenant's users by email, filtered, a page at a time.
// The order is total (email, then id), so walking the pages returns every
// user once even while users are added.
func (a *Admin) Users(ctx context.Context, act Actor, q UserQuery, meta Meta) (UserPage, error) {
	s, err := a.authorizeFor(ctx, act, "users.list", meta)
	if err != nil {
		return UserPage{}, err
	}
	f := UserFilter{TenantID: s.tenant.ID, Role: q.Role, EmailPrefix: strings.ToLower(strings.TrimSpace(q.EmailPrefix))}
	if f.Limit, err = pageSize(q.Limit); err != nil {
		return UserPage{}, err
	}
	switch st := UserStatus(q.Status); st {
	case "", UserPending, UserActive, UserDisabled, UserLocked:
		f.Status = st
	default:
		return UserPage{}, Errorf(EINVALID, "status %q is not one of pending, active, disabled, locked", Clean(q.Status, 32))
	}
	if f.Role != "" && !roleRE.MatchString(f.Role) {
		return UserPage{}, Errorf(EINVALID, "role %q is not a role name", Clean(f.Role, 64))
	}
	if len(f.EmailPrefix) > maxEmailBytes || strings.ContainsFunc(f.EmailPrefix, hidden) {
		return UserPage{}, Errorf(EINVALID, "email prefix must be at most %d bytes of visible characters", maxEmailBytes)
	}
	if q.Cursor != "" {
		var c userCursor
		if err := decodeCursor(q.Cursor, &c); err != nil {
			return UserPage{}, err
		}
		f.AfterEmail, f.AfterID = c.Email, c.ID
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	users, err := a.store.ListUsersPage(ctx, f)
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: make([]AdminUser, 0, min(len(users), want))}
	for i, u := range users {
		if i == want {
			last := users[want-1]
			page.Next = encodeCursor(userCursor{Email: last.Email, ID: last.ID})
			break
		}
		page.Users = append(page.Users, a.adminView(u))
	}
	s.read(ctx, a.env, "users.list", nil)
	return page, nil
}

func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0 || n > MaxPageSize:
		return 0, Errorf(EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	return n, nil
}

// encodeCursor and decodeCursor make the opaque page cursors: a position,
// never a permission (every query is bound to the caller's tenant anyway).
func encodeCursor(v any) string {
	b, _ := json.Marshal(v) // plain strings, numbers and times
	return base64.RawURLEncoding.EncodeToString(b)
}

var errCursor = Errorf(EINVALID, "cursor is not valid: pass next_cursor of the previous page unchanged")

func decodeCursor(s string, v any) error {
	if len(s) > 1024 {
		return errCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, v) != nil {
		return errCursor
	}
	return nil
}

// User returns one user of the tenant.
func (a *Admin) User(ctx context.Context, act Actor, ref UserRef, meta Meta) (AdminUser, error) {
	s, err := a.authorizeFor(ctx, act, "user.get", meta)
	if err != nil {
		return AdminUser{}, err
	}
	u, err := a.target(ctx, s, "user.get", ref)
	if err != nil {
		return AdminUser{}, err
	}
	s.read(ctx, a.env, "user.get", &u)
	return a.adminView(u), nil
}

// UserDetail is what the admin pages show of one user: the user, its live
// sessions and its latest audit events, read (and audited) as one view.
type UserDetail struct {
	User     AdminUser
	Sessions []SessionInfo
	Events   []AuditEvent
	Actors   map[string]string // as AuditPage.Actors
	// Catalogue is the tenant's roles, for the page's role choices.
	Catalogue []RoleView
}

// recentEvents is how many events the user page shows.
const recentEvents = 10

// UserDetail reads the admin page of one user.
func (a *Admin) UserDetail(ctx context.Context, act Actor, ref UserRef, meta Meta) (UserDetail, error) {
	s, err := a.authorizeFor(ctx, act, "user.get", meta)
	if err != nil {
		return UserDetail{}, err
	}
	u, err := a.target(ctx, s, "user.get", ref)
	if err != nil {
		return UserDetail{}, err
	}
	sessions, err := a.liveSessions(ctx, u)
	if err != nil {
		return UserDetail{}, err
	}
	events, err := a.store.ListAuditEvents(ctx, AuditFilter{TenantID: &s.tenant.ID, Email: u.Email, Limit: recentEvents})
	if err != nil {
		return UserDetail{}, err
	}
	roles, err := a.store.ListRoles(ctx, s.tenant.ID)
	if err != nil {
		return UserDetail{}, err
	}
	d := UserDetail{User: a.adminView(u), Sessions: sessions, Events: events, Actors: a.actorNames(ctx, s, events)}
	for _, r := range roles {
		d.Catalogue = append(d.Catalogue, r.view())
	}
	s.read(ctx, a.env, "user.get", &u)
	return d, nil
}

// UserInput changes a user; nil fields stay as they are.
type UserInput struct {
	DisplayName *string
	Roles       *[]string
}

// UpdateUser changes a user's display name and roles. Roles must be in the
// tenant's catalogue; only admins grant admin, and an admin can't take
// admin from itself (another admin can), so a tenant isn't left without
// one by a slip. A role change shows in tokens at their next refresh; the
// admin API and pages read roles from the database on every request.
func (a *Admin) UpdateUser(ctx context.Context, act Actor, ref UserRef, in UserInput, meta Meta) (AdminUser, error) {
	s, err := a.authorizeFor(ctx, act, "users.update", meta)
	if err != nil {
		return AdminUser{}, err
	}
	if in.DisplayName == nil && in.Roles == nil {
		return AdminUser{}, Errorf(EINVALID, "nothing to change: give display_name or roles")
	}
	u, err := a.target(ctx, s, "users.update", ref)
	if err != nil {
		return AdminUser{}, err
	}
	var changed []string
	if in.DisplayName != nil {
		if err := checkDisplayName(*in.DisplayName); err != nil {
			return AdminUser{}, err
		}
		changed = append(changed, "display_name")
	}
	var roles []string
	if in.Roles != nil {
		if roles, err = validRoles(*in.Roles); err != nil {
			return AdminUser{}, err
		}
		if err := s.checkGrant(ctx, a.env, "users.update", u, roles); err != nil {
			return AdminUser{}, err
		}
		changed = append(changed, "roles")
	}
	err = a.store.InTx(ctx, func(tx Tx) error {
		if in.DisplayName != nil {
			if err := tx.SetDisplayName(ctx, u.ID, *in.DisplayName); err != nil {
				return err
			}
			u.DisplayName = *in.DisplayName
		}
		if in.Roles != nil {
			if err := checkCatalogue(ctx, tx, s.tenant, roles); err != nil {
				return err
			}
			if err := tx.SetUserRoles(ctx, u.ID, roles); err != nil {
				return err
			}
			u.Roles = roles
		}
		return a.audit.record(ctx, tx, event(EventUserUpdate, OutcomeSuccess, strings.Join(changed, ","), s.meta).forUser(u))
	})
	if err != nil {
		return AdminUser{}, err
	}
	return a.adminView(u), nil
}

// checkGrant applies the escalation guard to giving target the roles next:
// only holders of admin grant it, and an admin keeps its own.
func (s adminScope) checkGrant(ctx context.Context, e *env, action string, target User, next []string) error {
	if s.by == nil {
		return nil
	}
	has := slices.Contains(next, RoleAdmin)
	if has && !target.HasRole(RoleAdmin) && !s.by.HasRole(RoleAdmin) {
		return s.deny(ctx, e, action, &target, &Error{Code: EFORBIDDEN, Message: `only holders of "admin" grant "admin"`, Reason: "admin_grant"})
	}
	if !has && target.ID == s.by.ID && target.HasRole(RoleAdmin) {
		return s.deny(ctx, e, action, &target, &Error{Code: EFORBIDDEN, Message: `an admin can't take "admin" from itself; another admin can`, Reason: ReasonSelfDemote})
	}
	return nil
}

// Reasons of refusals a face tells apart (web/handlers_admin*.go).
const (
	ReasonNotInCatalogue = "role_not_in_catalogue"
	ReasonRoleExists     = "role_exists"
	ReasonRolesFull      = "roles_full"
	ReasonSelfDemote     = "self_demote"
	ReasonSelfDisable    = "self_disable"
)

// checkCatalogue refuses roles outside the tenant's catalogue, naming
// them, and holds the roles it found until tx ends, so none of them can be
// deleted before the grant commits.
func checkCatalogue(ctx context.Context, tx Tx, t Tenant, roles []string) error {
	if len(roles) == 0 {
		return nil
	}
	found, err := tx.ShareRoles(ctx, t.ID, roles)
	if err != nil {
		return err
	}
	var missing []string
	for _, r := range roles {
		if !slices.Contains(found, r) {
			missing = append(missing, `"`+r+`"`)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return &Error{Code: EINVALID, Reason: ReasonNotInCatalogue,
			Message: "role " + missing[0] + " is not in the role catalogue of tenant \"" + t.Slug + "\""}
	default:
		return &Error{Code: EINVALID, Reason: ReasonNotInCatalogue,
			Message: "roles " + strings.Join(missing, ", ") + " are not in the role catalogue of tenant \"" + t.Slug + "\""}
	}
}

// CreateUser creates a user in the scope's tenant (docs/api.md, "Admin
// API"): with a password it is active; without, pending with an invite
// mailed.
func (a *Admin) CreateUser(ctx context.Context, act Actor, in CreateInput, meta Meta) (AdminUser, error) {
	s, err := a.authorizeFor(ctx, act, "users.create", meta)
	if err != nil {
		return AdminUser{}, err
	}
	if s.by != nil && in.Tenant != "" && in.Tenant != s.tenant.Slug {
		return AdminUser{}, s.deny(ctx, a.env, "users.create", nil, &Error{Code: EFORBIDDEN,
			Message: "an admin can only create users in its own tenant", Reason: "other_tenant"})
	}
	u, err := a.createUser(ctx, s, in, EventUserCreate)
	if err != nil {
		return AdminUser{}, err
	}
	return a.adminView(u), nil
}

// createUser is the one way a user is made (the CLI, /register, the admin
// API and pages).
func (e *env) createUser(ctx context.Context, s adminScope, in CreateInput, eventName string) (User, error) {
	if err := checkEmail(in.Email); err != nil {
		return User{}, err
	}
	email := NormalizeEmail(in.Email)
	roles, err := validRoles(in.Roles)
	if err != nil {
		return User{}, err
	}
	if err := checkDisplayName(in.DisplayName); err != nil {
		return User{}, err
	}
	if s.tenant.Status != TenantActive {
		return User{}, Errorf(ECONFLICT, "tenant %q is disabled", s.tenant.Slug)
	}
	u := &User{TenantID: s.tenant.ID, TenantSlug: s.tenant.Slug, TenantStatus: s.tenant.Status, Email: email, Roles: roles,
		DisplayName: in.DisplayName, Status: UserPending}
	if err := s.checkGrant(ctx, e, "users.create", *u, roles); err != nil {
		return User{}, err
	}
	if in.Password != "" {
		if err := e.checkPassword(in.Password, email, s.tenant.Slug); err != nil {
			return User{}, err
		}
		if u.PasswordHash, err = e.hashPassword(ctx, in.Password); err != nil {
			return User{}, err
		}
		u.Status = UserActive
	}
	err = e.store.InTx(ctx, func(tx Tx) error {
		if err := checkCatalogue(ctx, tx, s.tenant, roles); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			if isCode(err, ECONFLICT) {
				return Errorf(ECONFLICT, "a user %q already exists in tenant %q", Escape(email), s.tenant.Slug)
			}
			return err
		}
		if u.Status == UserPending {
			if err := e.invite(ctx, tx, *u); err != nil {
				return err
			}
		}
		return e.audit.record(ctx, tx, event(eventName, OutcomeSuccess, "", s.meta).forUser(*u))
	})
	if err != nil {
		return User{}, err
	}
	if u.Status == UserPending {
		e.wakeMail()
	}
	return *u, nil
}

// invite mails u a new invite link, voiding the one sent before.
func (e *env) invite(ctx context.Context, tx Tx, u User) error {
	raw, err := e.newResetToken(ctx, tx, u.ID, TokenInvite, inviteTTL)
	if err != nil {
		return err
	}
	return e.queueMail(ctx, tx, Mail{To: u.Email, Kind: MailInvite, Subject: inviteSubject, URL: e.resetURL(raw)})
}

// ResendInvite mails a pending user a new invite; the older link stops
// working.
func (a *Admin) ResendInvite(ctx context.Context, act Actor, ref UserRef, meta Meta) (AdminUser, error) {
	s, err := a.authorizeFor(ctx, act, "users.invite", meta)
	if err != nil {
		return AdminUser{}, err
	}
	u, err := a.target(ctx, s, "users.invite", ref)
	if err != nil {
		return AdminUser{}, err
	}
	if u.Status != UserPending {
		return AdminUser{}, Errorf(ECONFLICT, "user %q is %s: only pending users are invited", u.Email, u.Status)
	}
	err = a.store.InTx(ctx, func(tx Tx) error {
		if err := a.invite(ctx, tx, u); err != nil {
			return err
		}
		return a.audit.record(ctx, tx, event(EventUserInvite, OutcomeSuccess, "resend", s.meta).forUser(u))
	})
	if err != nil {
		return AdminUser{}, err
	}
	a.wakeMail()
	return a.adminView(u), nil
}

// Disable blocks a user and revokes every session of it in the same
// transaction. An admin can't disable itself.
func (a *Admin) Disable(ctx context.Context, act Actor, ref UserRef, meta Meta) (AdminUser, error) {
	return a.setStatus(ctx, act, ref, UserDisabled, "users.disable", EventUserDisable, meta)
}

// Enable returns a disabled user to active; its sessions stay revoked.
func (a *Admin) Enable(ctx context.Context, act Actor, ref UserRef, meta Meta) (AdminUser, error) {
	return a.setStatus(ctx, act, ref, UserActive, "users.enable", EventUserEnable, meta)
}

func (a *Admin) setStatus(ctx context.Context, act Actor, ref UserRef, status UserStatus, action, eventName string, meta Meta) (AdminUser, error) {
	s, err := a.authorizeFor(ctx, act, action, meta)
	if err != nil {
		return AdminUser{}, err
	}
	u, err := a.target(ctx, s, action, ref)
	if err != nil {
		return AdminUser{}, err
	}
	if status == UserDisabled && s.by != nil && s.by.ID == u.ID {
		return AdminUser{}, s.deny(ctx, a.env, action, &u, &Error{Code: EFORBIDDEN,
			Message: "an admin can't disable itself; another admin can", Reason: ReasonSelfDisable})
	}
	if status == UserActive && u.Status == UserPending {
		return AdminUser{}, Errorf(ECONFLICT, "user %q is pending: it becomes active when it sets a password", u.Email)
	}
	err = a.store.InTx(ctx, func(tx Tx) error {
		if err := tx.SetUserStatus(ctx, u.ID, status); err != nil {
			return err
		}
		u.Status = status
		if status == UserDisabled {
			if _, err := tx.RevokeUserSessions(ctx, u.ID, nil, "user_disabled", a.now()); err != nil {
				return err
			}
		}
		return a.audit.record(ctx, tx, event(eventName, OutcomeSuccess, "", s.meta).forUser(u))
	})
	if err != nil {
		return AdminUser{}, err
	}
	return a.adminView(u), nil
}

// Unlock clears a user's temporary locks and their counters.
func (a *Admin) Unlock(ctx context.Context, act Actor, ref UserRef, meta Meta) (AdminUser, error) {
	s, err := a.authorizeFor(ctx, act, "users.unlock", meta)
	if err != nil {
		return AdminUser{}, err
	}
	u, err := a.target(ctx, s, "users.unlock", ref)
	if err != nil {
		return AdminUser{}, err
	}
	err = a.store.InTx(ctx, func(tx Tx) error {
		if err := a.clearLocks(ctx, tx, u); err != nil {
			return err
		}
		u.LockedUntil, u.LockLevel = nil, 0
		return a.audit.record(ctx, tx, event(EventAccountUnlocked, OutcomeSuccess, "admin", s.meta).forUser(u))
	})
	if err != nil {
		return AdminUser{}, err
	}
	if err := a.clearLimiterLocks(ctx, u); err != nil {
		return AdminUser{}, err
	}
	return a.adminView(u), nil
}

// Sessions lists a user's live browser and app sessions.
func (a *Admin) Sessions(ctx context.Context, act Actor, ref UserRef, meta Meta) ([]SessionInfo, error) {
	s, err := a.authorizeFor(ctx, act, "user.sessions", meta)
	if err != nil {
		return nil, err
	}
	u, err := a.target(ctx, s, "user.sessions", ref)
	if err != nil {
		return nil, err
	}
	out, err := a.liveSessions(ctx, u)
	if err != nil {
		return nil, err
	}
	s.read(ctx, a.env, "user.sessions", &u)
	return out, nil
}

func (e *env) liveSessions(ctx context.Context, u User) ([]SessionInfo, error) {
	api, browsers, err := e.store.ListLiveSessions(ctx, u.ID, e.now())
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(api)+len(browsers))
	for _, s := range browsers {
		out = append(out, SessionInfo{ID: s.ID, Browser: true, ClientIP: s.ClientIP, UserAgent: s.UserAgent,
			CreatedAt: s.CreatedAt, LastUsed: s.LastUsedAt})
	}
	for _, s := range api {
		out = append(out, SessionInfo{ID: s.ID, ClientID: s.ClientID, ClientIP: s.ClientIP, UserAgent: s.UserAgent,
			CreatedAt: s.CreatedAt, LastUsed: s.LastUsedAt})
	}
	return out, nil
}

// RevokeSessions ends one session of the user (sessionID) or, with
// sessionID "", all of them. A session of another user is "not found".
func (a *Admin) RevokeSessions(ctx context.Context, act Actor, ref UserRef, sessionID string, meta Meta) (RevokeResult, error) {
	s, err := a.authorizeFor(ctx, act, "user.sessions.revoke", meta)
	if err != nil {
		return RevokeResult{}, err
	}
	u, err := a.target(ctx, s, "user.sessions.revoke", ref)
	if err != nil {
		return RevokeResult{}, err
	}
	var sid *uuid.UUID
	if sessionID != "" {
		id, err := uuid.Parse(sessionID)
		if err != nil {
			return RevokeResult{}, Errorf(EINVALID, "session id is not a UUID")
		}
		sid = &id
	}
	var res RevokeResult
	err = a.store.InTx(ctx, func(tx Tx) error {
		ev := event(EventSessionsRevoke, OutcomeSuccess, "user", s.meta).forUser(u)
		if sid == nil {
			if res.Revoked, err = tx.RevokeUserSessions(ctx, u.ID, nil, "admin_revoke", a.now()); err != nil {
				return err
			}
			return a.audit.record(ctx, tx, ev)
		}
		owner, err := sessionOwner(ctx, tx, *sid)
		if err != nil {
			return err
		}
		if owner != u.ID {
			return Errorf(ENOTFOUND, "no such session")
		}
		if res.Revoked, err = tx.RevokeSession(ctx, *sid, "admin_revoke", a.now()); err != nil {
			return err
		}
		ev.Reason = "session"
		return a.audit.record(ctx, tx, ev.forSession(*sid))
	})
	return res, err
}

// AuditQuery of the admin API and pages: one tenant's events, newest first.
type AuditPageQuery struct {
	Event  string
	UserID string // "" for any
	Since  time.Time
	Until  time.Time
	// HideReads leaves out admin_read rows (the pages' default: an admin
	// looking around writes one per page).
	HideReads bool
	Cursor    string
	Limit     int
}

// AuditPage is one page of events; Next continues it. Actors names the
// tenant's users among the events' actors (user id to email), for pages
// that show people rather than ids.
type AuditPage struct {
	Events []AuditEvent
	Next   string
	Actors map[string]string
	// UserEmail is the email of the UserID filter's user.
	UserEmail string
}

// AuditEventNames lists the audit events a filter may pick
// (docs/auth/idp.md, "Audit").
var AuditEventNames = []string{
	EventAccessDenied, EventAccountLocked, EventAccountUnlocked, EventAdminDenied, EventAdminRead,
	EventClientCreate, EventClientDelete, EventClientSecret, EventClientUpdate, EventCodeIssued, EventCodeReuse,
	EventConsent, EventConsentRevoke, EventKeyCreate, EventKeyRotate, EventLoginFailure, EventLoginSuccess, EventLogout,
	EventMailFailure, EventPasswordChange, EventResetComplete, EventResetInitiate, EventRefresh, EventRefreshFailure,
	EventRefreshReplay, EventRefreshReuse, EventRegister, EventRoleCreate, EventRoleDelete, EventSessionsRevoke,
	EventTenantCreate, EventTenantDisable, EventUserCreate, EventUserDisable, EventUserEnable, EventUserInvite,
	EventUserSeed, EventUserUpdate,
}

// actorNames maps the actors of events that are users of the scope's
// tenant to their emails; anyone else ("cli", a user since gone) is left
// out and shown as recorded.
func (e *env) actorNames(ctx context.Context, s adminScope, events []AuditEvent) map[string]string {
	out := map[string]string{}
	for _, ev := range events {
		if _, done := out[ev.Actor]; done || ev.Actor == "" {
			continue
		}
		id, err := uuid.Parse(ev.Actor)
		if err != nil {
			continue
		}
		if u, err := e.store.UserByID(ctx, id); err == nil && u.TenantID == s.tenant.ID {
			out[ev.Actor] = u.Email
		}
	}
	return out
}

type auditCursor struct {
	Time time.Time `json:"t"`
	ID   int64     `json:"i"`
}

// Audit lists the tenant's audit events, filtered, a page at a time (by
// time then id: stable while new events arrive, which land on page one).
func (a *Admin) Audit(ctx context.Context, act Actor, q AuditPageQuery, meta Meta) (AuditPage, error) {
	s, err := a.authorizeFor(ctx, act, "audit.list", meta)
	if err != nil {
		return AuditPage{}, err
	}
	f := AuditFilter{TenantID: &s.tenant.ID, Event: q.Event, Since: q.Since, Until: q.Until}
	if f.Limit, err = pageSize(q.Limit); err != nil {
		return AuditPage{}, err
	}
	if len(f.Event) > 64 || strings.ContainsFunc(f.Event, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) {
		return AuditPage{}, Errorf(EINVALID, "event %q is not an event name", Clean(f.Event, 64))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return AuditPage{}, Errorf(EINVALID, "since must be before until")
	}
	if q.HideReads {
		f.ExcludeEvent = EventAdminRead
	}
	var email string
	if q.UserID != "" {
		u, err := a.target(ctx, s, "audit.list", ByID(q.UserID))
		if err != nil {
			return AuditPage{}, err
		}
		f.Email, email = u.Email, u.Email
	}
	if q.Cursor != "" {
		var c auditCursor
		if err := decodeCursor(q.Cursor, &c); err != nil {
			return AuditPage{}, err
		}
		f.Before = &AuditPosition{Time: c.Time, ID: c.ID}
	}
	want := f.Limit
	f.Limit++
	events, err := a.store.ListAuditEvents(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Events: events, UserEmail: email}
	if len(events) > want {
		page.Events = events[:want]
		last := events[want-1]
		page.Next = encodeCursor(auditCursor{Time: last.Time, ID: last.ID})
	}
	page.Actors = a.actorNames(ctx, s, page.Events)
	s.read(ctx, a.env, "audit.list", nil)
	return page, nil
}

// TenantSettings is the tenant and the policies in force for it (the
// configuration of the server, the same for every tenant today).
type TenantSettings struct {
	ID        string         `json:"id"`
	Slug      string         `json:"slug"`
	Name      string         `json:"name"`
	Status    TenantStatus   `json:"status"`
	CreatedAt time.Time      `json:"created_at"`
	Policies  TenantPolicies `json:"policies"`
}

// TenantPolicies are the settings that shape a tenant's accounts;
// durations in seconds.
type TenantPolicies struct {
	PasswordMinLength         int   `json:"password_min_length"`
	LockoutMaxAttempts        int   `json:"lockout_max_attempts"`
	LockoutAccountMaxAttempts int   `json:"lockout_account_max_attempts"`
	LockoutDuration           int64 `json:"lockout_duration_seconds"`
	LockoutMaxDuration        int64 `json:"lockout_max_duration_seconds"`
	AccessTokenTTL            int64 `json:"access_token_ttl_seconds"`
	RefreshTTL                int64 `json:"refresh_ttl_seconds"`
	RefreshIdleTTL            int64 `json:"refresh_idle_ttl_seconds"`
	BrowserSessionTTL         int64 `json:"browser_session_ttl_seconds"`
	BrowserIdleTTL            int64 `json:"browser_idle_ttl_seconds"`
	BrowserRememberTTL        int64 `json:"browser_remember_ttl_seconds"`
	ResetTTL                  int64 `json:"reset_link_ttl_seconds"`
	InviteTTL                 int64 `json:"invite_link_ttl_seconds"`
}

// Tenant reads the tenant's settings.
func (a *Admin) Tenant(ctx context.Context, act Actor, meta Meta) (TenantSettings, error) {
	s, err := a.authorizeFor(ctx, act, "tenant.get", meta)
	if err != nil {
		return TenantSettings{}, err
	}
	t, err := a.store.TenantBySlug(ctx, s.tenant.Slug)
	if err != nil {
		return TenantSettings{}, err
	}
	c := a.cfg
	sec := func(d time.Duration) int64 { return int64(d / time.Second) }
	s.read(ctx, a.env, "tenant.get", nil)
	return TenantSettings{ID: t.ID.String(), Slug: t.Slug, Name: t.Name, Status: t.Status, CreatedAt: t.CreatedAt,
		Policies: TenantPolicies{
			PasswordMinLength: c.PasswordMinLength, LockoutMaxAttempts: c.MaxAttempts, LockoutAccountMaxAttempts: c.AccountMaxAttempts,
			LockoutDuration: sec(c.LockDuration), LockoutMaxDuration: sec(c.LockMaxDuration),
			AccessTokenTTL: sec(c.AccessTTL), RefreshTTL: sec(c.RefreshTTL), RefreshIdleTTL: sec(c.RefreshIdleTTL),
			BrowserSessionTTL: sec(c.BrowserSessionTTL), BrowserIdleTTL: sec(c.BrowserIdleTTL), BrowserRememberTTL: sec(c.BrowserRememberTTL),
			ResetTTL: sec(c.ResetTTL), InviteTTL: sec(inviteTTL),
		}}, nil
}
