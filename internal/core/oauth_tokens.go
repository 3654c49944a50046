package core

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/token"
)

func asError(err error, target **Error) bool { return errors.As(err, target) }

// addIDToken signs the ID token of a client-bound session into resp
// (OpenID Connect Core 2, 3.1.3.6): with the client's algorithm, for the
// client as audience, with the claims its scope grants.
func (e *env) addIDToken(resp *TokenResponse, u User, sess Session, c Client, nonce string, now time.Time) error {
	resp.Scope = sess.Scope
	scopes := strings.Fields(sess.Scope)
	if !slices.Contains(scopes, ScopeOpenID) {
		return nil
	}
	sid := sess.ID.String()
	if sess.BrowserSessionID != nil {
		// The OP session: what RP-initiated logout ends.
		sid = sess.BrowserSessionID.String()
	}
	claims := token.IDClaims{
		Issuer: e.cfg.Issuer, Subject: u.ID.String(), Audience: c.ID, Nonce: nonce, AuthorizedParty: c.ID,
		SessionID: sid, AccessTokenHash: token.AtHash(c.IDTokenAlg, resp.AccessToken),
		IssuedAt: now, ExpiresAt: now.Add(e.cfg.AccessTTL), Extra: map[string]any{},
	}
	if sess.AuthTime != nil {
		claims.AuthTime = *sess.AuthTime
	}
	for k, v := range scopeClaims(u, scopes) {
		claims.Extra[k] = v
	}
	idt, err := e.keys.SignIDToken(c.IDTokenAlg, claims)
	if err != nil {
		return err
	}
	resp.IDToken = idt
	return nil
}

// scopeClaims are the user's claims a set of scopes grants (OpenID Connect
// Core 5.4, plus idp's roles scope).
func scopeClaims(u User, scopes []string) map[string]any {
	out := map[string]any{}
	if slices.Contains(scopes, ScopeProfile) {
		out["name"] = u.DisplayName
	}
	if slices.Contains(scopes, ScopeEmail) {
		out["email"] = u.Email
		out["email_verified"] = u.EmailVerifiedAt != nil
	}
	if slices.Contains(scopes, ScopeRoles) {
		roles := u.Roles
		if roles == nil || u.MustChangePassword {
			roles = []string{}
		}
		out["tenant_id"] = u.TenantID.String()
		out["roles"] = roles
	}
	return out
}

// errBadCode is the one answer for every code that can't be exchanged.
func errBadCode(reason string) *Error {
	return &Error{Code: EDENIED, Message: "the authorization code is invalid, expired or already used", Reason: reason}
}

// CodeExchange is the authorization_code grant of an authenticated client.
type CodeExchange struct {
	Client       Client
	Code         string
	RedirectURI  string
	CodeVerifier string
}

// ExchangeCode spends a code and starts a session bound to the client. A
// code is single use: a second use revokes what the first one issued (RFC
// 9700 4.2.4), and every mismatch (another client, another redirect_uri,
// a wrong PKCE verifier) spends it too.
func (o *OAuth) ExchangeCode(ctx context.Context, in CodeExchange, meta Meta) (TokenResponse, error) {
	meta.ClientID, meta.ClientIDVerified = in.Client.ID, true
	if in.Code == "" || len(in.Code) > 512 {
		return TokenResponse{}, o.codeFailure(ctx, errBadCode(ReasonUnknownToken), nil, meta)
	}
	hash := token.HashOpaque(in.Code)
	now := o.now()
	code, err := o.store.UseCode(ctx, hash, now)
	if isCode(err, ENOTFOUND) {
		return TokenResponse{}, o.spentCode(ctx, hash, meta)
	}
	if err != nil {
		return TokenResponse{}, err
	}
	switch {
	case code.ClientID != in.Client.ID:
		return TokenResponse{}, o.codeFailure(ctx, errBadCode("other_client"), &code, meta)
	case code.RedirectURI != in.RedirectURI:
		return TokenResponse{}, o.codeFailure(ctx, errBadCode("redirect_uri_mismatch"), &code, meta)
	case !pkceMatches(code.CodeChallenge, in.CodeVerifier):
		return TokenResponse{}, o.codeFailure(ctx, errBadCode("pkce_failed"), &code, meta)
	}
	u, err := o.store.UserByID(ctx, code.UserID)
	if err != nil {
		return TokenResponse{}, err
	}
	if u.Status != UserActive || u.TenantStatus != TenantActive || u.MustChangePassword {
		return TokenResponse{}, o.codeFailure(ctx, errBadCode(ReasonUserInactive), &code, meta)
	}
	if code.BrowserSessionID != nil {
		// Signed out (or revoked) since the code was issued: nothing to
		// start from.
		b, err := o.store.BrowserSessionByID(ctx, *code.BrowserSessionID)
		if err != nil || !b.ActiveAt(now) {
			return TokenResponse{}, o.codeFailure(ctx, errBadCode(ReasonSessionRevoked), &code, meta)
		}
	}
	resp, err := o.startSession(ctx, u, meta, sessionSpec{
		client: &in.Client, scope: code.Scopes, nonce: code.Nonce, authTime: code.AuthTime,
		browser: code.BrowserSessionID, reason: "code",
		after: func(ctx context.Context, tx Tx, sess Session) error { return tx.SetCodeSession(ctx, hash, sess.ID) },
	})
	if err != nil {
		return TokenResponse{}, err
	}
	if !in.Client.HasGrant(GrantRefreshToken) {
		resp.RefreshToken, resp.RefreshExpiresIn = "", 0
	}
	return resp, nil
}

// spentCode answers a code that is not live: unknown, expired, or used
// before, in which case what the first use issued is revoked.
func (o *OAuth) spentCode(ctx context.Context, hash []byte, meta Meta) error {
	code, err := o.store.CodeByHash(ctx, hash)
	if isCode(err, ENOTFOUND) {
		return o.codeFailure(ctx, errBadCode(ReasonUnknownToken), nil, meta)
	}
	if err != nil {
		return err
	}
	if code.UsedAt == nil {
		return o.codeFailure(ctx, errBadCode(ReasonSessionExpired), &code, meta)
	}
	if code.SessionID != nil {
		err := o.store.InTx(ctx, func(tx Tx) error {
			if _, err := tx.RevokeSession(ctx, *code.SessionID, ReasonReuse, o.now()); err != nil {
				return err
			}
			ev := event(EventCodeReuse, OutcomeFailure, ReasonReuse, meta)
			uid := code.UserID
			ev.SubjectID = &uid
			return o.audit.record(ctx, tx, ev.forSession(*code.SessionID))
		})
		if err != nil {
			return err
		}
	}
	return errBadCode(ReasonReuse)
}

func (o *OAuth) codeFailure(ctx context.Context, e *Error, code *AuthCode, meta Meta) error {
	ev := event(EventLoginFailure, OutcomeFailure, "code:"+e.Reason, meta)
	if code != nil {
		if u, err := o.store.UserByID(ctx, code.UserID); err == nil {
			ev.forUser(u)
		}
	}
	o.audit.recordBestEffort(ctx, ev)
	return e
}

// UserInfo is the claims of the user an access token is for (OpenID
// Connect Core 5.3): sub always; the rest as the token's scope grants. A
// token without scope (the password API's) gets every claim, like /me.
func (o *OAuth) UserInfo(ctx context.Context, p Principal) map[string]any {
	scopes := strings.Fields(p.Session.Scope)
	if !p.Session.ClientBound {
		scopes = []string{ScopeProfile, ScopeEmail, ScopeRoles}
	}
	out := scopeClaims(p.User, scopes)
	out["sub"] = p.User.ID.String()
	return out
}

// Revoke ends the session of a refresh or access token the client holds
// (RFC 7009). An unknown token, or one of another client, succeeds as a
// no-op: the caller learns nothing.
func (o *OAuth) Revoke(ctx context.Context, client *Client, raw string, meta Meta) error {
	if raw == "" || len(raw) > 8<<10 {
		return nil
	}
	var sess Session
	if strings.Count(raw, ".") == 2 {
		claims, err := o.keys.verifier().Verify(raw)
		if err != nil {
			return nil
		}
		sid, err := uuid.Parse(claims.SessionID)
		if err != nil {
			return nil
		}
		if sess, err = o.store.SessionByID(ctx, sid); err != nil {
			return ignoreNotFound(err)
		}
	} else {
		_, s, err := o.store.RefreshTokenByHash(ctx, token.HashOpaque(raw))
		if err != nil {
			return ignoreNotFound(err)
		}
		sess = s
	}
	if clientMismatch(sess, client) {
		return nil
	}
	if client != nil {
		meta.ClientID, meta.ClientIDVerified = client.ID, true
	}
	return o.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.RevokeSession(ctx, sess.ID, "client_revoke", o.now())
		if err != nil || n == 0 {
			return err
		}
		ev := o.sessionEvent(ctx, tx, event(EventLogout, OutcomeSuccess, "revoke", meta), sess)
		return o.audit.record(ctx, tx, ev)
	})
}

func ignoreNotFound(err error) error {
	if isCode(err, ENOTFOUND) {
		return nil
	}
	return err
}

// Introspection is an RFC 7662 answer.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       string   `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	Sid       string   `json:"sid,omitempty"`
	TenantID  string   `json:"tenant_id,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}

// Introspect says whether a token is live right now: an access token whose
// signature, claims, session, user and tenant are all good, or an unspent
// refresh token of a live session. Only confidential clients may ask, and
// only about tokens of their own tenant (any other is "active": false).
func (o *OAuth) Introspect(ctx context.Context, client Client, raw string) (Introspection, error) {
	if client.Public {
		return Introspection{}, Errorf(EFORBIDDEN, "only confidential clients may introspect tokens")
	}
	if raw == "" || len(raw) > 8<<10 {
		return Introspection{}, nil
	}
	if strings.Count(raw, ".") == 2 {
		p, err := (&Auth{env: o.env}).Authenticate(ctx, raw)
		if isCode(err, EUNAUTHORIZED) {
			return Introspection{}, nil
		}
		if err != nil {
			return Introspection{}, err
		}
		if p.User.TenantID != client.TenantID {
			// A client learns about its own tenant's tokens only.
			return Introspection{}, nil
		}
		c := p.Claims
		roles := c.Roles
		return Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, Username: p.User.Email, TokenType: "Bearer",
			Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix(), Sub: c.Subject, Aud: c.Audience,
			Iss: c.Issuer, Jti: c.ID, Sid: c.SessionID, TenantID: c.TenantID, Roles: roles}, nil
	}
	rt, sess, err := o.store.RefreshTokenByHash(ctx, token.HashOpaque(raw))
	if isCode(err, ENOTFOUND) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	now := o.now()
	if rt.SpentAt != nil || !sess.ActiveAt(now) || !now.Before(rt.ExpiresAt) || sess.TenantID != client.TenantID {
		return Introspection{}, nil
	}
	u, err := o.store.UserByID(ctx, sess.UserID)
	if err != nil || u.Status != UserActive || u.TenantStatus != TenantActive {
		return Introspection{}, ignoreNotFound(err)
	}
	return Introspection{Active: true, Scope: sess.Scope, ClientID: sess.ClientID, Username: u.Email, TokenType: "refresh_token",
		Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(), Sub: u.ID.String(), Iss: o.cfg.Issuer, Sid: sess.ID.String(),
		TenantID: u.TenantID.String()}, nil
}

// Consents lists the apps the user allowed, for the account page.
func (o *OAuth) Consents(ctx context.Context, p BrowserPrincipal) ([]Consent, error) {
	return o.store.ListConsents(ctx, p.User.ID)
}

// RevokeConsent withdraws an app's access: the consent and every session
// of the user bound to that client.
func (o *OAuth) RevokeConsent(ctx context.Context, p BrowserPrincipal, clientID string, meta Meta) error {
	return o.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.DeleteConsent(ctx, p.User.ID, clientID)
		if err != nil {
			return err
		}
		if n == 0 {
			return Errorf(ENOTFOUND, "no such app")
		}
		if _, err := tx.RevokeUserClientSessions(ctx, p.User.ID, clientID, "consent_revoked", o.now()); err != nil {
			return err
		}
		ev := event(EventConsentRevoke, OutcomeSuccess, "", meta).forUser(p.User)
		ev.ClientID = clientID
		return o.audit.record(ctx, tx, ev)
	})
}

// CORSOrigins lists the origins browsers may call the token, userinfo,
// JWKS, discovery and revocation endpoints from: those registered clients
// declared.
func (o *OAuth) CORSOrigins(ctx context.Context) ([]string, error) {
	return o.store.ListCORSOrigins(ctx)
}

// Client returns a registered client (for the consent page and logout).
func (o *OAuth) Client(ctx context.Context, id string) (Client, error) {
	c, err := o.store.ClientByID(ctx, id)
	if err != nil {
		return Client{}, notFoundAs(err, "unknown client")
	}
	return c, nil
}
