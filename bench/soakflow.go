package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// soakRedirect is the code flows' redirect URI: nothing listens there,
// the flow reads the code from the redirect itself.
const soakRedirect = "http://127.0.0.1:9/callback"

// browser is one user agent of a code flow: its own cookies, sent by hand
// because net/http's cookie jar keeps Secure (__Host-) cookies for https
// only, and no redirect followed, so each step's answer can be checked.
type browser struct {
	c       *http.Client
	cookies map[string]string
}

func newBrowser() *browser {
	c := newClient(1)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{c: c, cookies: map[string]string{}}
}

// do sends one request with the browser's cookies and keeps the ones the
// answer sets.
func (br *browser) do(ctx context.Context, method, target string, form url.Values) (int, string, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, "", "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for name, value := range br.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := br.c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(br.cookies, c.Name)
		} else {
			br.cookies[c.Name] = c.Value
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(raw), err
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="(csrf|flow)" value="([^"]*)">`)

// codeFlow signs a bench user in through the hosted pages as a browser
// does for an app (authorization code with PKCE, first-party client so no
// consent page), and exchanges the code: one "code flow" sample, timed
// from the first request to the tokens.
func (r *soakRun) codeFlow(ctx context.Context) {
	b := r.b
	br := newBrowser()
	defer br.c.CloseIdleConnections()
	t0 := time.Now()
	status, step, err := r.codeFlowSteps(ctx, br, benchEmail(int(t0.UnixNano()%int64(b.users))))
	r.record("code flow", status, err, t0)
	if err != nil || status != http.StatusOK {
		r.fail("code flow, %s: %d %v", step, status, err)
	}
}

// codeFlowSteps runs the flow; on a wrong answer it returns that answer's
// status and the step that got it.
func (r *soakRun) codeFlowSteps(ctx context.Context, br *browser, email string) (int, string, error) {
	b := r.b
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	state := rand.Text()
	q := url.Values{"response_type": {"code"}, "client_id": {r.client}, "redirect_uri": {soakRedirect}, "scope": {"openid"},
		"state": {state}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	check := func(want []int, status int, err error) error {
		if err != nil {
			return err
		}
		for _, w := range want {
			if status == w {
				return nil
			}
		}
		return fmt.Errorf("answered %d", status)
	}
	redirects := []int{http.StatusFound, http.StatusSeeOther}

	st, loc, _, err := br.do(ctx, http.MethodGet, b.url("/oauth2/authorize?"+q.Encode()), nil)
	if err := check(redirects, st, err); err != nil || !strings.HasPrefix(loc, "/login?") {
		return st, "authorize (want a redirect to /login, got " + loc + ")", err
	}
	st, _, page, err := br.do(ctx, http.MethodGet, b.url(loc), nil)
	if err := check([]int{http.StatusOK}, st, err); err != nil {
		return st, "sign-in page", err
	}
	form := url.Values{"email": {email}, "password": {b.sec.password}}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("csrf") == "" || form.Get("flow") == "" {
		return st, "sign-in page (no csrf or flow field)", nil
	}
	st, loc, _, err = br.do(ctx, http.MethodPost, b.url("/login"), form)
	if err := check(redirects, st, err); err != nil || !strings.HasPrefix(loc, "/oauth2/authorize/resume?") {
		return st, "sign in (want a redirect to the authorization request, got " + loc + ")", err
	}
	st, loc, _, err = br.do(ctx, http.MethodGet, b.url(loc), nil)
	if err := check(redirects, st, err); err != nil {
		return st, "resume", err
	}
	back, perr := url.Parse(loc)
	if perr != nil || !strings.HasPrefix(loc, soakRedirect) || back.Query().Get("state") != state || back.Query().Get("code") == "" {
		return st, "resume (want the redirect URI with code and state, got " + loc + ")", perr
	}
	tokenForm := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {soakRedirect},
		"client_id": {r.client}, "code_verifier": {verifier}}
	st, _, body, err := br.do(ctx, http.MethodPost, b.url("/oauth2/token"), tokenForm)
	if err != nil || st != http.StatusOK || !strings.Contains(body, `"id_token"`) {
		return st, "token (want tokens with an id_token)", err
	}
	return st, "", nil
}
