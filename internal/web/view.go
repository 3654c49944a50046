// Package web is the HTML face of idp: the hosted sign-in, password and
// account pages (CONTRACT section 6, docs/pages.md). It owns cookies, CSRF
// and the pages' own security headers; the rules (who may sign in, how long
// a browser session lives, which return targets are allowed) are core's.
//
// The split inside the package: handlers (handlers_*.go) decide what a page
// shows and build a View; the Renderer (render.go) turns a View into HTML
// with the templates and static files of the root web/ directory, or of
// ui.templates_dir when it overrides them.
package web

import "time"

// View is what every page template is executed with. Text is never put in
// a View: handlers name messages by catalogue ID (web/i18n/*.json) and the
// templates translate them with the "t" function, so every page exists in
// every language of the catalogue.
type View struct {
	// Lang is the BCP 47 tag of the catalogue the page is rendered in; the
	// Renderer fills it (ui_locales, then Accept-Language, then "en").
	Lang string
	// Nonce is the CSP nonce of this response, for the one script tag; the
	// Renderer fills it.
	Nonce string
	// Brand is ui.product_name and the logo's URL; the Renderer fills it.
	Brand Brand
	// TitleID is the catalogue ID of the page title (<title> and <h1>).
	TitleID string
	// CSRF is the value of the hidden "csrf" field every form of the page
	// carries.
	CSRF string
	// Tenant is shown on sign-in pages by its display name; nil hides it.
	Tenant *TenantView
	// User is the signed-in user, for the page header; nil when signed out.
	User *UserBadge
	// Alert is the page's one error or notice summary: rendered in an
	// aria-live region that receives focus when the page loads.
	Alert *Message
	// Fields are errors of single inputs, by input name; the input gets
	// aria-invalid and aria-describedby pointing at its message.
	Fields map[string]Message
	// Form re-fills inputs by name after an error (never passwords).
	Form map[string]string
	// Data is the page's own struct (LoginPage, AccountPage, ...).
	Data any
}

// Brand is how the pages name the product.
type Brand struct {
	Product string // ui.product_name, default "idp"
	LogoURL string // "/static/logo" when ui.logo_file is set, else ""
}

// TenantView names the tenant a page is for.
type TenantView struct {
	Slug string
	Name string
}

// UserBadge is the signed-in user as the page header shows it.
type UserBadge struct {
	Email       string
	DisplayName string
}

// Message is a catalogue ID with its arguments (fmt verbs in the message).
// Kind is "error", "info" or "success".
type Message struct {
	ID   string
	Args []any
	Kind string
}

// Page names, each a template web/templates/<name>.html.
const (
	PageLogin          = "login"
	PagePasswordChange = "password_change"
	PageForgot         = "password_forgot"
	PageReset          = "password_reset"
	PageAccount        = "account"
	PageLogout         = "logout"
	PageError          = "error"
	PageMessage        = "message"
	PageConsent        = "consent"
)

// Form field names the handlers read. Labels and button texts are the
// catalogue's; their English wording is fixed by CONTRACT 6 (tests select
// elements by it).
const (
	FieldCSRF            = "csrf"
	FieldFlow            = "flow"
	FieldEmail           = "email"
	FieldPassword        = "password"
	FieldRemember        = "remember"
	FieldCurrentPassword = "current_password"
	FieldNewPassword     = "new_password"
	FieldConfirmPassword = "confirm_password"
	FieldToken           = "token"
	FieldSession         = "session"
)

// LoginPage is PageLogin: POST /login with FieldFlow, FieldCSRF,
// FieldEmail, FieldPassword and the FieldRemember checkbox ("on").
type LoginPage struct {
	Flow      string // hidden field value
	ForgotURL string // "/password/forgot?..." keeping tenant and return target
	// SignedOut says the user just signed out (an info alert is set too).
	SignedOut bool
}

// PasswordChangePage is PagePasswordChange: POST /password/change with
// FieldCSRF, FieldFlow, FieldCurrentPassword, FieldNewPassword and
// FieldConfirmPassword.
type PasswordChangePage struct {
	Flow string
	// Forced says a one-time or expired password must be replaced before
	// anything else works.
	Forced    bool
	MinLength int
}

// ForgotPage is PageForgot: POST /password/forgot with FieldCSRF,
// FieldFlow and FieldEmail. Sent shows the one answer for every email.
type ForgotPage struct {
	Flow     string
	Sent     bool
	LoginURL string
}

// ResetPage is PageReset: POST /password/reset with FieldCSRF, FieldToken,
// FieldNewPassword and FieldConfirmPassword.
type ResetPage struct {
	Token     string // hidden field; never put into a URL by the page
	MinLength int
	Done      bool // the password is set: show the link to sign in
	Missing   bool // the link had no token
	LoginURL  string
}

// AccountPage is PageAccount. Its forms: POST /account/sessions/revoke
// with FieldCSRF and FieldSession (one "Revoke" button per session but the
// current one), POST /account/signout-everywhere with FieldCSRF ("Sign out
// everywhere"), POST /logout with FieldCSRF ("Sign out"). Apps (OAuth
// clients with remembered consent) get POST /account/apps/revoke with
// FieldCSRF and "client" (filled by the OpenID Connect provider).
type AccountPage struct {
	Email         string
	DisplayName   string
	TenantName    string
	Roles         []string
	EmailVerified bool
	CreatedAt     time.Time
	Sessions      []SessionRow
	Apps          []AppRow
	// AdminURL links the admin pages for an admin of the tenant; "" for
	// everyone else.
	AdminURL string
}

// SessionRow is one signed-in browser or app session of the user.
type SessionRow struct {
	ID       string
	Kind     string // "browser" or "app"
	Device   string // "Firefox on Linux", from the User-Agent; "" when unknown
	ClientID string // the app, for Kind "app": its registered name, else the client_id it sent
	IP       string
	Created  time.Time
	LastUsed time.Time
	Current  bool // this browser: no Revoke button, marked "This device"
}

// AppRow is an app the user granted access to.
type AppRow struct {
	ClientID string
	Name     string
	Scopes   []string
	Granted  time.Time
}

// LogoutPage is PageLogout: the confirm page of GET /logout, a form
// posting to Action (/logout, or /oauth2/logout when an app asked to sign
// the browser out) with FieldCSRF, "request" when Request is set, and the
// "Sign out" button.
type LogoutPage struct {
	Action     string
	Request    string // hidden field of an app's logout request
	ClientName string // the app that asked, if any
}

// ErrorPage is PageError: TitleID and Alert say what went wrong.
type ErrorPage struct {
	Status     int
	RetryAfter int    // seconds, when retrying later helps (429, 503)
	RequestID  string // to quote to an operator
	BackURL    string // "" for none
}

// MessagePage is PageMessage: a notice with an optional link (e.g. "you
// are signed out", "check your mail").
type MessagePage struct {
	BodyID    string
	Args      []any
	LinkURL   string
	LinkLabel string // catalogue ID
}

// ConsentPage is PageConsent: a third-party app asks for access. Its form
// POST /oauth2/consent carries FieldCSRF, "request" and the button pressed:
// "decision" = "allow" (button "Allow") or "deny" (button "Deny").
type ConsentPage struct {
	Request    string // hidden field value
	ClientName string
	// Scopes are the scopes asked for; the template says each in plain
	// words (catalogue "scope.<name>").
	Scopes []string
}
