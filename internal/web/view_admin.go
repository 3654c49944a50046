package web

import "time"

// The admin pages (docs/pages.md, "Administration"): for admins of the
// signed-in user's tenant only; everyone else gets the 403 page. Each is
// a View whose Data is one of the types below.
const (
	PageAdminUsers   = "admin_users"
	PageAdminUserNew = "admin_user_new"
	PageAdminUser    = "admin_user"
	PageAdminRoles   = "admin_roles"
	PageAdminAudit   = "admin_audit"
)

// Form fields of the admin pages.
const (
	FieldDisplayName = "display_name"
	FieldRole        = "role" // a role checkbox (repeated), or the role to delete
	FieldRoleName    = "name"
	FieldDescription = "description"
)

// AdminNav is the admin pages' navigation: which one is current ("users",
// "roles", "audit") and the tenant they administer.
type AdminNav struct {
	Current string
	Tenant  string
}

// AdminUsersPage is PageAdminUsers: GET /admin/users with "q" (email
// prefix) and "status" ("" for all), a table of users and, when there are
// more, NextURL ("Next page") and FirstURL ("First page").
type AdminUsersPage struct {
	Nav      AdminNav
	Query    string
	Status   string
	Statuses []string
	Users    []AdminUserRow
	NextURL  string
	FirstURL string
}

// AdminUserRow is one user of the table.
type AdminUserRow struct {
	URL         string
	Email       string
	DisplayName string
	Status      string
	Locked      bool
	Roles       []string
	LastLogin   *time.Time
}

// AdminUserNewPage is PageAdminUserNew: POST /admin/users with FieldCSRF,
// FieldEmail, FieldDisplayName and FieldRole checkboxes ("Send invite").
// The user is created pending and mailed an invite.
type AdminUserNewPage struct {
	Nav   AdminNav
	Roles []RoleChoice
}

// RoleChoice is one checkbox of a roles field.
type RoleChoice struct {
	Name        string
	Description string
	Checked     bool
	// Locked keeps the box as it is: an admin's own admin role.
	Locked bool
}

// AdminUserPage is PageAdminUser, the page of one user. Its forms post to
// Base + "/update" (FieldDisplayName, FieldRole: "Save changes"),
// "/disable", "/enable", "/unlock", "/invite", "/sessions/revoke"
// (FieldSession: "Revoke" per session) and "/sessions/revoke-all", each
// with FieldCSRF.
type AdminUserPage struct {
	Nav           AdminNav
	Base          string // "/admin/users/<id>"
	Email         string
	DisplayName   string
	Status        string
	LockedUntil   *time.Time
	LastLogin     *time.Time
	Created       time.Time
	EmailVerified bool
	MustChange    bool
	// Self is the admin's own page: it can't disable itself.
	Self     bool
	Roles    []RoleChoice
	Sessions []SessionRow
	Events   []AuditRow
	AuditURL string // every event of the user
}

// AdminRolesPage is PageAdminRoles: the catalogue, a create form (POST
// /admin/roles with FieldCSRF, FieldRoleName, FieldDescription: "Create
// role") and a delete button per unused role (POST /admin/roles/delete
// with FieldCSRF and FieldRole).
type AdminRolesPage struct {
	Nav   AdminNav
	Roles []RoleRow
}

// RoleRow is one role of the catalogue.
type RoleRow struct {
	Name        string
	Description string
	Holders     int
	Builtin     bool
	Created     time.Time
	UsersURL    string // the users holding it
}

// AdminAuditPage is PageAdminAudit: GET /admin/audit with "event", "user"
// (a user id), "since" and "until" (dates, UTC, both days included) and
// "reads" ("1" shows admins' reads).
type AdminAuditPage struct {
	Nav       AdminNav
	Event     string
	EventList []string
	User      string // the user filter's id
	UserEmail string // ... and who it is
	Since     string
	Until     string
	Reads     bool
	Events    []AuditRow
	NextURL   string
	FirstURL  string
	ClearURL  string
}

// AuditRow is one audit event as the pages show it.
type AuditRow struct {
	Time    time.Time
	Event   string
	Failed  bool
	Reason  string
	Subject string // email
	// SubjectURL links the subject's admin page; "" when it isn't a user
	// of the tenant any more (or never was).
	SubjectURL string
	Actor      string // an email, "cli", or "" for the subject itself
	IP         string
}
