package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// Options are what the hosted pages are built from: only the services they
// use.
type Options struct {
	Browser *core.Browser
	Users   *core.Users
	Resets  *core.Resets
	OAuth   *core.OAuth
	// Admin and Roles serve the admin pages; without them there are none.
	Admin    *core.Admin
	Roles    *core.Roles
	Renderer *Renderer
	// Issuer is the public base URL; its origin is trusted for
	// cross-origin checks behind a proxy that rewrites Host.
	Issuer string
	// Meta reads the caller of a request (request id, client IP, user
	// agent), as the server's middleware determined it.
	Meta              func(*http.Request) core.Meta
	PasswordMinLength int
	DeviceTokenTTL    time.Duration
	// DefaultTenant is tenants.default: its sign-in page names no tenant
	// unless the operator gave it a name of its own.
	DefaultTenant string
	Logger        *slog.Logger
}

// Face is the hosted pages, mounted by internal/server.
type Face struct {
	opts Options
	log  *slog.Logger
	cop  *http.CrossOriginProtection
}

// Languages lists the languages the pages speak.
func (f *Face) Languages() []string { return f.opts.Renderer.Languages() }

// New builds the pages. It does no I/O.
func New(opts Options) (*Face, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PasswordMinLength <= 0 {
		opts.PasswordMinLength = 12
	}
	if opts.DeviceTokenTTL <= 0 {
		opts.DeviceTokenTTL = 90 * 24 * time.Hour
	}
	f := &Face{opts: opts, log: opts.Logger}
	// Go's cross-origin protection refuses state-changing requests a
	// browser marks as cross-site (Sec-Fetch-Site, else Origin against
	// Host); the per-form tokens are the second line.
	f.cop = http.NewCrossOriginProtection()
	if u, err := url.Parse(opts.Issuer); err == nil && u.Scheme != "" && u.Host != "" {
		if err := f.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, err
		}
	}
	f.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.renderError(w, r, errCrossSite)
	}))
	return f, nil
}

// handlerFunc is how every page handler is written: an error it returns is
// rendered once, by renderError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f *Face) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			f.renderError(w, r, err)
		}
	})
}

// post is a state-changing page request: cross-origin protection first.
func (f *Face) post(h handlerFunc) http.Handler { return f.cop.Handler(f.handle(h)) }

// Mount registers the pages of CONTRACT 6.
func (f *Face) Mount(mux *http.ServeMux) {
	mux.Handle("GET /{$}", f.handle(f.home))
	mux.Handle("GET /login", f.handle(f.loginPage))
	mux.Handle("POST /login", f.post(f.loginSubmit))
	mux.Handle("GET /password/change", f.handle(f.changePage))
	mux.Handle("POST /password/change", f.post(f.changeSubmit))
	mux.Handle("GET /password/forgot", f.handle(f.forgotPage))
	mux.Handle("POST /password/forgot", f.post(f.forgotSubmit))
	mux.Handle("GET /password/reset", f.handle(f.resetPage))
	mux.Handle("POST /password/reset", f.post(f.resetSubmit))
	mux.Handle("GET /account", f.handle(f.accountPage))
	mux.Handle("POST /account/sessions/revoke", f.post(f.revokeSession))
	mux.Handle("POST /account/signout-everywhere", f.post(f.signOutEverywhere))
	mux.Handle("GET /logout", f.handle(f.logoutPage))
	mux.Handle("POST /logout", f.post(f.logoutSubmit))
	if f.opts.OAuth != nil {
		mux.Handle("GET /oauth2/authorize", f.handle(f.authorize))
		// A cross-site POST is how an app may send the request (OpenID
		// Connect Core 3.1.2.1): it changes nothing by itself, so it is
		// not behind the cross-origin check; consent and logout are.
		mux.Handle("POST /oauth2/authorize", f.handle(f.authorize))
		mux.Handle("GET /oauth2/authorize/resume", f.handle(f.authorizeResume))
		mux.Handle("POST /oauth2/consent", f.post(f.consent))
		mux.Handle("GET /oauth2/logout", f.handle(f.endSession))
		// Apps may POST the logout request cross-site; endSession checks
		// the origin of the confirm page's own form itself.
		mux.Handle("POST /oauth2/logout", f.handle(f.endSession))
		mux.Handle("POST /account/apps/revoke", f.post(f.revokeApp))
	}
	if f.opts.Admin != nil && f.opts.Roles != nil {
		f.mountAdmin(mux)
	}
	if f.opts.Renderer != nil {
		mux.Handle("GET /static/", f.opts.Renderer.Static())
	}
}

// home sends a browser to its account, or to sign in.
func (f *Face) home(w http.ResponseWriter, r *http.Request) error {
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

// render renders page with v, status 200.
func (f *Face) render(w http.ResponseWriter, r *http.Request, status int, page string, v View) error {
	return f.opts.Renderer.Render(w, r, status, page, v)
}

// readForm parses a urlencoded form (the server already capped the body).
// Each field may appear once: a duplicate is refused, as on the JSON API.
func readForm(r *http.Request) (url.Values, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, errFormType
	}
	if err := r.ParseForm(); err != nil {
		return nil, errBadForm
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, core.Errorf(core.EINVALID, "field %q appears more than once", core.Clean(k, 32))
		}
	}
	return r.PostForm, nil
}

// redirect answers a form post with 303, so Back and Reload don't post
// again.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// loginURL is the sign-in page that brings the browser back to target.
func loginURL(target string) string {
	if target == "" || target == "/account" {
		return "/login"
	}
	return "/login?" + url.Values{"return_to": {target}}.Encode()
}
