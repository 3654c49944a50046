package web

// Catalogue IDs of the admin pages' handlers (TestHandlerMessagesExist
// reads this file too).
const (
	msgTitleAdminUsers         = "admin.users.title"
	msgTitleAdminUserNew       = "admin.user_new.title"
	msgTitleAdminUser          = "admin.user.title"
	msgTitleAdminRoles         = "admin.roles.title"
	msgTitleAdminAudit         = "admin.audit.title"
	msgAdminInvited            = "admin.notice.invited"
	msgAdminSaved              = "admin.notice.saved"
	msgAdminDisabled           = "admin.notice.disabled"
	msgAdminEnabled            = "admin.notice.enabled"
	msgAdminUnlocked           = "admin.notice.unlocked"
	msgAdminRevoked            = "admin.notice.revoked"
	msgAdminRoleCreated        = "admin.notice.role_created"
	msgAdminRoleDeleted        = "admin.notice.role_deleted"
	msgAdminEmailTaken         = "admin.error.email_taken"
	msgAdminRoleGone           = "admin.error.role_gone"    // a chosen role left the catalogue meanwhile
	msgAdminNameInvalid        = "admin.error.name_invalid" // control or bidi characters, too long
	msgAdminSelfDemote         = "admin.error.self_demote"
	msgAdminSelfDisable        = "admin.error.self_disable"
	msgAdminNotNow             = "admin.error.not_now" // the user's state changed: reload
	msgAdminSessionGone        = "admin.error.session_gone"
	msgAdminRoleExists         = "admin.error.role_exists"
	msgAdminRolesFull          = "admin.error.roles_full"
	msgAdminRoleName           = "admin.error.role_name"
	msgAdminDescriptionInvalid = "admin.error.description_invalid"
	msgAdminRoleInUse          = "admin.error.role_in_use"
)
