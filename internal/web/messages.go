package web

// Catalogue IDs the handlers put into Views (titles, alerts, field errors).
// Templates use many more; every ID here must exist in every catalogue of
// web/i18n (TestHandlerMessagesExist).
const (
	msgTitleLogin          = "login.title"
	msgTitleChange         = "password_change.title"
	msgTitleForgot         = "password_forgot.title"
	msgTitleReset          = "password_reset.title"
	msgTitleAccount        = "account.title"
	msgTitleLogout         = "logout.title"
	msgTitleSignedOut      = "signed_out.title"
	msgTitleError          = "error.title"
	msgTitleNotFound       = "error.not_found.title"
	msgTitleForbidden      = "error.forbidden.title"
	msgTitleUnavailable    = "error.unavailable.title"
	msgTitleTooMany        = "error.too_many.title"
	msgTitleBadRequest     = "error.bad_request.title"
	msgTitleCrossSite      = "error.cross_site.title"
	msgBadCredentials      = "login.error.invalid" // one message for every cause
	msgTooManyAttempts     = "error.too_many"      // try later, no exact time
	msgUnavailable         = "error.unavailable"   // the service is down: retry
	msgFormExpired         = "error.form_expired"  // re-rendered, input kept
	msgCrossSite           = "error.cross_site"    // a post from another site
	msgBadRequest          = "error.bad_request"   // malformed request
	msgNotFound            = "error.not_found"     // no such page or tenant
	msgForbidden           = "error.forbidden"     // e.g. a disabled tenant
	msgInternal            = "error.internal"      // quote the request id
	msgReturnTo            = "error.return_to"     // return_to off this server
	msgEmailInvalid        = "field.email.invalid" // not an address
	msgRequired            = "field.required"      // a required field is empty
	msgPasswordTooLong     = "field.password.too_long"
	msgPasswordsDiffer     = "field.password.mismatch"
	msgCurrentWrong        = "field.current_password.wrong"
	msgWeakMinLength       = "field.password.min_length" // arg: the minimum
	msgWeakCommon          = "field.password.common"
	msgWeakContainsEmail   = "field.password.contains_email"
	msgWeakContainsTenant  = "field.password.contains_tenant"
	msgWeakOther           = "field.password.weak"
	msgSignedOut           = "login.signed_out"         // info after sign-out
	msgPasswordChanged     = "account.password_changed" // success notice
	msgSessionRevoked      = "account.session_revoked"
	msgSignedOutEverywhere = "login.signed_out_everywhere"
	msgResetSent           = "password_forgot.sent" // the one answer for every email
	msgResetDone           = "password_reset.done"
	msgResetBadLink        = "password_reset.bad_link"
	msgResetMissing        = "password_reset.missing"
	msgMustChange          = "password_change.forced"
	msgLinkSignIn          = "link.sign_in"
	msgTitleConsent        = "consent.title"
	msgBadClient           = "error.bad_client" // unknown client or redirect_uri: no redirect
	msgBadLogout           = "error.bad_logout" // a logout request that can't be trusted
	msgAppRevoked          = "account.app_revoked"
)
