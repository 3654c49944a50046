package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"
)

// Cookie names (CONTRACT 6). The __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain, so no subdomain and no plain-http page can
// set or shadow them. Browsers treat http://127.0.0.1 and localhost as
// secure origins, so `make dev` works without TLS.
const (
	// cookieSession is the browser session: 256 random bits, HttpOnly.
	cookieSession = "__Host-idp_session"
	// cookieDevice is the device token of the browser's last successful
	// sign-in: it buys this browser its own lockout budget.
	cookieDevice = "__Host-idp_device"
	// cookieCSRF binds forms and sign-in flows to this browser.
	cookieCSRF = "__Host-idp_csrf"
)

func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// cookie returns the value of the named cookie, "" when absent. Only the
// first one counts: a duplicate can only come from someone else's page.
func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// binding returns the browser's CSRF binding, setting a new one on w when
// the browser has none (or a malformed one). A form posted without one
// (cookies blocked, a new browser) fails as expired and is shown again.
func binding(w http.ResponseWriter, r *http.Request) string {
	if v := cookie(r, cookieCSRF); validBinding(v) {
		return v
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	setCookie(w, cookieCSRF, v, 0)
	return v
}

func validBinding(v string) bool {
	if len(v) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil
}
