package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	sessionCookie = "app_session"
	loginCookie   = "app_login"  // the state of a sign-in under way
	logoutCookie  = "app_logout" // the state of a sign-out under way
)

// login sends the browser to idp with a fresh state (bound to this
// browser by a cookie), nonce and PKCE verifier.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	a.sessions.begin(state, pending{nonce: nonce, verifier: verifier})
	a.setCookie(w, loginCookie, state, 10*time.Minute)
	http.Redirect(w, r, a.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback is where idp sends the browser back: the state must be this
// browser's, then the code is exchanged and the ID token checked.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := r.Cookie(loginCookie)
	if err != nil || q.Get("state") == "" || q.Get("state") != c.Value {
		http.Error(w, "this sign-in was not started here: start again at /login", http.StatusBadRequest)
		return
	}
	a.setCookie(w, loginCookie, "", -1)
	p, ok := a.sessions.finish(c.Value)
	switch {
	case !ok:
		http.Error(w, "this sign-in expired: start again at /login", http.StatusBadRequest)
		return
	case q.Get("error") != "":
		http.Error(w, fmt.Sprintf("idp refused the sign-in: %s: %s", q.Get("error"), q.Get("error_description")), http.StatusForbidden)
		return
	case q.Get("iss") != a.issuer: // RFC 9207: idp names itself in the response
		http.Error(w, "the response is not from idp", http.StatusBadRequest)
		return
	}
	tok, err := a.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		http.Error(w, "code exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	s, err := a.check(r.Context(), tok, p.nonce, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	a.setCookie(w, sessionCookie, a.sessions.start(s), 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// check verifies the ID token of a token response (signature, issuer,
// audience, expiry, nonce, at_hash) and asks UserInfo about the same
// person. After a refresh, prev is the session being refreshed: the new
// ID token must be about the same sign-in (OpenID Connect Core 12.2).
func (a *app) check(ctx context.Context, tok *oauth2.Token, nonce string, prev *session) (*session, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("idp sent no ID token")
	}
	id, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("ID token: %w", err)
	}
	if id.Nonce != nonce {
		return nil, errors.New("ID token: nonce doesn't match this sign-in")
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		return nil, fmt.Errorf("ID token: %w", err)
	}
	s := &session{token: tok, idToken: raw, Subject: id.Subject, IDTokenAlg: jwtAlg(raw), IDTokenIssuedAt: id.IssuedAt.Unix()}
	if err := id.Claims(&s.idClaims); err != nil {
		return nil, fmt.Errorf("ID token claims: %w", err)
	}
	if prev != nil && (s.Subject != prev.Subject || s.AuthTime != prev.AuthTime || s.SessionID != prev.SessionID) {
		return nil, errors.New("the refreshed ID token is about another sign-in")
	}
	info, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	if info.Subject != id.Subject { // OpenID Connect Core 5.3.2
		return nil, errors.New("userinfo is about someone else")
	}
	s.UserInfoEmail = info.Email
	return s, nil
}

// refresh gets new tokens with the refresh token. A token source refreshes
// only an expired token, so the copy it gets here is marked expired; an
// app calling an API would use oauth2.NewClient(ctx,
// a.oauth.TokenSource(ctx, s.token)) and refresh whenever it must.
func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	s := a.current(r)
	if s == nil {
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	old := *s.token
	old.Expiry = time.Now().Add(-time.Minute)
	tok, err := a.oauth.TokenSource(r.Context(), &old).Token()
	if err != nil {
		http.Error(w, "refresh: "+err.Error(), http.StatusBadGateway)
		return
	}
	next, err := a.check(r.Context(), tok, "", s)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	next.Refreshes, next.RefreshTokenRotated = s.Refreshes+1, tok.RefreshToken != s.token.RefreshToken
	a.sessions.replace(r, next)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the app's session and sends the browser to idp's
// end_session_endpoint, which signs it out and sends it back.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.end(r)
	a.setCookie(w, sessionCookie, "", -1)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	state := rand.Text()
	a.setCookie(w, logoutCookie, state, 10*time.Minute)
	q := url.Values{"id_token_hint": {s.idToken}, "post_logout_redirect_uri": {a.url + "/signed-out"}, "state": {state}}
	http.Redirect(w, r, a.endSession+"?"+q.Encode(), http.StatusSeeOther)
}

func (a *app) signedOut(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(logoutCookie)
	if err != nil || r.URL.Query().Get("state") != c.Value {
		http.Error(w, "this sign-out was not started here", http.StatusBadRequest)
		return
	}
	a.setCookie(w, logoutCookie, "", -1)
	page.Execute(w, nil)
}

func (a *app) home(w http.ResponseWriter, r *http.Request) { page.Execute(w, a.current(r)) }

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	s := a.current(r)
	if s == nil {
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

func (a *app) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()), HttpOnly: true,
		Secure: strings.HasPrefix(a.url, "https://"), SameSite: http.SameSiteLaxMode})
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><meta charset="utf-8"><title>go-oidc app</title>
{{if .}}<p>Signed in as {{.Email}} ({{.Subject}}).</p>
<form method="post" action="/refresh"><button>Refresh tokens</button></form>
<form method="post" action="/logout"><button>Sign out</button></form>
{{else}}<p>Signed out. <a href="/login">Sign in with idp</a></p>{{end}}
</html>
`))
