package server

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/idp-dev/idp/internal/core"
)

//go:embed pages/*.html
var pageFS embed.FS

var pageTemplates = template.Must(template.ParseFS(pageFS, "pages/*.html"))

// pageCSP allows the page's own inline style and nothing else: no script,
// no framing, forms post only back here.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var errFormType = &apiError{http.StatusUnsupportedMediaType, "invalid_request", "the form must be application/x-www-form-urlencoded"}

type resetPage struct {
	Token     string
	Error     string
	Done      bool
	Missing   bool
	MinLength int
}

// handleResetPage shows the form behind the link in a reset or invite mail.
func (s *Server) handleResetPage(w http.ResponseWriter, r *http.Request) error {
	tok := r.URL.Query().Get("token")
	return s.renderReset(w, http.StatusOK, resetPage{Token: tok, Missing: tok == ""})
}

// handleResetSubmit completes a reset from the hosted form.
func (s *Server) handleResetSubmit(w http.ResponseWriter, r *http.Request) error {
	if !sameOrigin(r, s.opts.Issuer) {
		return s.renderReset(w, http.StatusForbidden, resetPage{Missing: true})
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return errFormType
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return s.renderReset(w, http.StatusBadRequest, resetPage{Missing: true})
	}
	page := resetPage{Token: r.PostForm.Get("token")}
	pw := r.PostForm.Get("new_password")
	if page.Token == "" {
		page.Missing = true
		return s.renderReset(w, http.StatusBadRequest, page)
	}
	if pw != r.PostForm.Get("confirm_password") {
		page.Error = "The two passwords differ."
		return s.renderReset(w, http.StatusBadRequest, page)
	}
	err := s.svc.Resets.Complete(r.Context(), page.Token, pw, s.meta(r))
	switch core.ErrorCode(err) {
	case "":
		return s.renderReset(w, http.StatusOK, resetPage{Done: true})
	case core.EWEAKPASSWORD, core.EINVALID:
		page.Error = core.ErrorMessage(err)
		return s.renderReset(w, http.StatusBadRequest, page)
	case core.EDENIED:
		page.Error = "This link is invalid, used or expired. Ask for a new one."
		return s.renderReset(w, http.StatusBadRequest, page)
	default:
		return err
	}
}

func (s *Server) renderReset(w http.ResponseWriter, status int, page resetPage) error {
	page.MinLength = s.opts.PasswordMinLength
	if page.MinLength <= 0 {
		page.MinLength = 12
	}
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "reset.html", page); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// sameOrigin refuses cross-site form posts: a browser says where a request
// comes from in Sec-Fetch-Site and Origin; clients that send neither
// (curl, old browsers) are let through, since this form carries no cookie
// and its token is itself the secret.
func sameOrigin(r *http.Request, issuer string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" && r.Header.Get("Sec-Fetch-Site") == "" {
		return true
	}
	want, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	return origin == want.Scheme+"://"+want.Host
}
