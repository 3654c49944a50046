package web

import "time"

// adminSamples are the admin pages in the states an admin meets, for the
// preview and the render tests.
func adminSamples(now time.Time) []Sample {
	user := &UserBadge{Email: "ada@example.com", DisplayName: "Ada Lovelace"}
	nav := func(current string) AdminNav { return AdminNav{Current: current, Tenant: "acme"} }
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	roles := []RoleChoice{
		{Name: "admin", Description: "Administers the tenant: users, roles and the audit log."},
		{Name: "member", Description: "Signs in to the team apps", Checked: true},
		{Name: "reports:read", Checked: true},
	}
	users := AdminUsersPage{Nav: nav("users"), Statuses: []string{"active", "pending", "disabled", "locked"}, NextURL: "/admin/users?cursor=c2FtcGxl",
		Users: []AdminUserRow{
			{URL: "/admin/users/1", Email: "ada@example.com", DisplayName: "Ada Lovelace", Status: "active", Roles: []string{"admin"}, LastLogin: ago(2 * time.Minute)},
			{URL: "/admin/users/2", Email: "grace.hopper.with.a.long.address@subdomain.example.org", Status: "active", Roles: []string{"member", "reports:read"}, LastLogin: ago(50 * time.Hour), Locked: true},
			{URL: "/admin/users/3", Email: "linus@example.com", DisplayName: "Linus", Status: "pending", Roles: []string{"member"}},
			{URL: "/admin/users/4", Email: "old@example.com", Status: "disabled", LastLogin: ago(40 * 24 * time.Hour)},
		}}
	events := []AuditRow{
		{Time: now.Add(-time.Minute), Event: "user_disable", Subject: "grace@example.com", SubjectURL: "/admin/users/2", Actor: "ada@example.com", IP: "203.0.113.24"},
		{Time: now.Add(-time.Hour), Event: "login_failure", Failed: true, Reason: "bad_password", Subject: "grace@example.com", SubjectURL: "/admin/users/2", IP: "2001:db8:85a3::8a2e:370:7334"},
		{Time: now.Add(-26 * time.Hour), Event: "role_create", Reason: "reports:read", Actor: "cli"},
	}
	detail := AdminUserPage{Nav: nav("users"), Base: "/admin/users/2", Email: "grace@example.com", DisplayName: "Grace Hopper", Status: "active",
		LockedUntil: func() *time.Time { t := now.Add(12 * time.Minute); return &t }(), LastLogin: ago(3 * time.Hour), Created: now.AddDate(0, -3, 0),
		EmailVerified: true, Roles: roles, AuditURL: "/admin/audit?user=2", Events: events[:2],
		Sessions: []SessionRow{
			{ID: "5d1f2a7b-6a0e-4f55-8c0e-2b7f9e3d4c02", Kind: "browser", Device: "Safari on iOS", IP: "198.51.100.7", Created: now.Add(-5 * time.Hour), LastUsed: now.Add(-5 * time.Minute)},
			{ID: "9e4a6b1c-3f2d-4a8e-b7c6-1d0e5f4a3b03", Kind: "app", ClientID: "reports-app", IP: "192.0.2.55", Created: now.AddDate(0, 0, -2), LastUsed: now.Add(-26 * time.Hour)},
		}}
	rolesPage := AdminRolesPage{Nav: nav("roles"), Roles: []RoleRow{
		{Name: "admin", Description: "Administers the tenant: users, roles and the audit log.", Holders: 1, Builtin: true, UsersURL: "/admin/users?role=admin"},
		{Name: "member", Description: "Signs in to the team apps", Holders: 12, UsersURL: "/admin/users?role=member"},
		{Name: "reports:read", UsersURL: "/admin/users?role=reports%3Aread"},
	}}
	audit := AdminAuditPage{Nav: nav("audit"), EventList: []string{"login_failure", "login_success", "user_disable"}, Event: "", Since: now.AddDate(0, 0, -7).Format(time.DateOnly),
		Events: events, NextURL: "/admin/audit?cursor=c2FtcGxl", FirstURL: "/admin/audit", ClearURL: "/admin/audit"}
	return []Sample{
		{"admin-users", PageAdminUsers, 200, View{User: user, Data: users}},
		{"admin-user-new-errors", PageAdminUserNew, 409, View{User: user, Fields: map[string]Message{FieldEmail: {ID: "admin.error.email_taken"}},
			Form: map[string]string{FieldEmail: "linus@example.com"}, Data: AdminUserNewPage{Nav: nav("users"), Roles: roles}}},
		{"admin-user", PageAdminUser, 200, View{User: user, Alert: &Message{ID: "admin.notice.saved", Kind: "success"},
			Form: map[string]string{FieldDisplayName: "Grace Hopper"}, Data: detail}},
		{"admin-roles", PageAdminRoles, 200, View{User: user, Data: rolesPage}},
		{"admin-audit", PageAdminAudit, 200, View{User: user, Data: audit}},
	}
}
