package core

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/token"
)

// OAuth is the OpenID Connect provider: the authorization code flow with
// PKCE through the hosted pages, tokens for registered clients, UserInfo,
// revocation, introspection and RP-initiated logout (docs/integrate.md,
// CONTRACT 7). Step order follows OpenID Connect Core 3.1.2.1 and RFC 9700:
// the client and its redirect_uri are checked before anything else, and
// only then may an error go back to the client.
type OAuth struct{ *env }

// AuthorizeParams are the parameters of an authorization request, as the
// client sent them.
type AuthorizeParams struct {
	ClientID, RedirectURI, ResponseType, ResponseMode, Scope, State, Nonce string
	CodeChallenge, CodeChallengeMethod                                     string
	Prompt, MaxAge, LoginHint, UILocales, IDTokenHint                      string
	Request, RequestURI                                                    string
}

// AuthRequest is an authorization request that passed every check: what a
// code will be bound to. The hosted pages carry it, signed and bound to the
// browser, through sign-in and consent (EncodeAuthRequest).
type AuthRequest struct {
	ClientID      string    `json:"c"`
	RedirectURI   string    `json:"r"`
	Scopes        []string  `json:"s"`
	State         string    `json:"st,omitempty"`
	Nonce         string    `json:"n,omitempty"`
	CodeChallenge string    `json:"cc,omitempty"`
	Prompt        []string  `json:"p,omitempty"`
	MaxAge        *int      `json:"m,omitempty"`
	LoginHint     string    `json:"h,omitempty"`
	UILocales     string    `json:"l,omitempty"`
	HintSubject   string    `json:"hs,omitempty"` // sub of id_token_hint
	IssuedAt      time.Time `json:"i"`
}

// AuthorizeError is a failed authorization request. Redirect says it may go
// back to RedirectURI (RFC 6749 4.1.2.1); otherwise the hosted error page
// shows it, because the client or its redirect_uri can't be trusted.
type AuthorizeError struct {
	Err         *Error
	Redirect    bool
	RedirectURI string
	State       string
}

func (e *AuthorizeError) Error() string { return e.Err.Error() }
func (e *AuthorizeError) Unwrap() error { return e.Err }

// Bounds of what a client may send; beyond them the request is refused
// rather than carried around.
const (
	maxStateBytes = 1024
	maxNonceBytes = 512
	codeTTLFloor  = 5 * time.Second
)

// CheckAuthorize validates an authorization request.
func (o *OAuth) CheckAuthorize(ctx context.Context, p AuthorizeParams) (AuthRequest, Client, error) {
	c, err := o.store.ClientByID(ctx, p.ClientID)
	if err != nil || c.Status != ClientActive {
		if err != nil && !isCode(err, ENOTFOUND) {
			return AuthRequest{}, Client{}, err
		}
		return AuthRequest{}, Client{}, &AuthorizeError{Err: Errorf(EINVALIDCLIENT, "unknown client_id")}
	}
	if p.RedirectURI == "" || !c.RedirectMatches(p.RedirectURI, c.RedirectURIs) {
		return AuthRequest{}, Client{}, &AuthorizeError{Err: Errorf(EINVALID, "redirect_uri is not registered for this client")}
	}
	back := func(code Code, reason, msg string) (AuthRequest, Client, error) {
		return AuthRequest{}, Client{}, &AuthorizeError{Err: &Error{Code: code, Reason: reason, Message: msg},
			Redirect: true, RedirectURI: p.RedirectURI, State: boundState(p.State)}
	}
	switch {
	case p.Request != "":
		return back(EUNSUPPORTED, "request", "request objects are not supported")
	case p.RequestURI != "":
		return back(EUNSUPPORTED, "request_uri", "request_uri is not supported")
	case p.ResponseType != "code":
		return back(EUNSUPPORTED, "response_type", "only response_type=code is supported")
	case p.ResponseMode != "" && p.ResponseMode != "query":
		return back(EINVALID, "", "only response_mode=query is supported")
	case len(p.State) > maxStateBytes || len(p.Nonce) > maxNonceBytes:
		return back(EINVALID, "", "state or nonce is too long")
	}
	scopes := strings.Fields(p.Scope)
	if !slices.Contains(scopes, ScopeOpenID) {
		return back(EINVALIDSCOPE, "", "scope must include openid")
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return back(EINVALIDSCOPE, "", "scope "+strconv.Quote(Clean(s, 64))+" is not allowed for this client")
		}
	}
	if err := checkPKCE(c, p); err != nil {
		return back(EINVALID, "", err.Error())
	}
	prompt := strings.Fields(p.Prompt)
	for _, v := range prompt {
		if !slices.Contains([]string{"none", "login", "consent", "select_account"}, v) {
			return back(EINVALID, "", "prompt "+strconv.Quote(Clean(v, 32))+" is not supported")
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return back(EINVALID, "", "prompt=none can't be combined with other values")
	}
	req := AuthRequest{ClientID: c.ID, RedirectURI: p.RedirectURI, Scopes: dedupe(scopes), State: p.State, Nonce: p.Nonce,
		CodeChallenge: p.CodeChallenge, Prompt: prompt, LoginHint: p.LoginHint, UILocales: Clean(p.UILocales, 64),
		IssuedAt: o.now()}
	if p.MaxAge != "" {
		n, err := strconv.Atoi(p.MaxAge)
		if err != nil || n < 0 {
			return back(EINVALID, "", "max_age must be a non-negative number of seconds")
		}
		req.MaxAge = &n
	}
	if p.IDTokenHint != "" {
		hint, err := o.keys.VerifyIDTokenHint(p.IDTokenHint)
		if err != nil {
			return back(EINVALID, "", "id_token_hint is not an ID token idp issued")
		}
		req.HintSubject = hint.Subject
	}
	return req, c, nil
}

// boundState keeps a state that is too long out of the error redirect.
func boundState(s string) string {
	if len(s) > maxStateBytes {
		return ""
	}
	return s
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// checkPKCE: public clients must send an S256 challenge (RFC 9700 2.1.1);
// any client may; "plain" is refused everywhere.
func checkPKCE(c Client, p AuthorizeParams) error {
	switch {
	case p.CodeChallenge == "" && p.CodeChallengeMethod == "":
		if c.Public {
			return Errorf(EINVALID, "PKCE is required for public clients: send code_challenge with code_challenge_method=S256")
		}
		return nil
	case p.CodeChallengeMethod != "S256":
		return Errorf(EINVALID, "code_challenge_method must be S256")
	case len(p.CodeChallenge) != 43 || !isBase64URL(p.CodeChallenge):
		return Errorf(EINVALID, "code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
	}
	return nil
}

func isBase64URL(s string) bool {
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// pkceMatches checks a code_verifier against the stored S256 challenge
// (RFC 7636 4.6); verifiers are 43-128 unreserved characters.
func pkceMatches(challenge, verifier string) bool {
	if challenge == "" {
		return verifier == ""
	}
	if len(verifier) < 43 || len(verifier) > 128 || strings.ContainsFunc(verifier, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~", r))
	}) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:]) == challenge
}

// EncodeAuthRequest signs req for the browser whose CSRF cookie is binding,
// so it survives the trip through the sign-in and consent pages unchanged.
func (o *OAuth) EncodeAuthRequest(req AuthRequest, binding string) string {
	body, _ := json.Marshal(req)
	enc := base64.RawURLEncoding.EncodeToString(body)
	return enc + "." + o.flows.Sign("authorize", binding, enc)
}

// DecodeAuthRequest checks a request carried by the pages: signed for this
// browser, at most flowTTL old.
func (o *OAuth) DecodeAuthRequest(s, binding string) (AuthRequest, error) {
	enc, sig, ok := strings.Cut(s, ".")
	if !ok || len(s) > 16<<10 || binding == "" || !o.flows.Verify(sig, "authorize", binding, enc) {
		return AuthRequest{}, ErrFlowExpired
	}
	body, err := base64.RawURLEncoding.DecodeString(enc)
	var req AuthRequest
	if err != nil || json.Unmarshal(body, &req) != nil {
		return AuthRequest{}, ErrFlowExpired
	}
	if age := o.now().Sub(req.IssuedAt); age > flowTTL || age < -time.Minute {
		return AuthRequest{}, ErrFlowExpired
	}
	return req, nil
}

// Decision is what the authorization endpoint does next.
type Decision struct {
	// SignIn: the browser must sign in (again) for the client's tenant,
	// then come back.
	SignIn bool
	Tenant string
	// Consent: the user must allow the scopes (third-party client).
	Consent bool
	Client  Client
	// RedirectTo, when set, is where the browser goes: the client's
	// redirect_uri with a code, or with an error.
	RedirectTo string
}

// Authorize decides an authorization request for the browser p (nil when
// signed out): a code when the session satisfies the request and consent
// is on record, else sign-in or consent, or an error for prompt=none.
func (o *OAuth) Authorize(ctx context.Context, req AuthRequest, p *BrowserPrincipal, meta Meta) (Decision, error) {
	c, err := o.store.ClientByID(ctx, req.ClientID)
	if err != nil || c.Status != ClientActive {
		return Decision{}, &AuthorizeError{Err: Errorf(EINVALIDCLIENT, "unknown client_id")}
	}
	none := slices.Contains(req.Prompt, "none")
	if needed := o.needsSignIn(req, c, p); needed {
		if none {
			return o.errorRedirect(req, &Error{Code: ELOGINREQUIRED, Message: "the user must sign in"}), nil
		}
		return Decision{SignIn: true, Tenant: c.TenantSlug, Client: c}, nil
	}
	if !c.FirstParty {
		granted, err := o.store.ConsentScopes(ctx, p.User.ID, c.ID)
		if err != nil && !isCode(err, ENOTFOUND) {
			return Decision{}, err
		}
		covered := err == nil && subset(req.Scopes, granted)
		if !covered || slices.Contains(req.Prompt, "consent") {
			if none {
				return o.errorRedirect(req, &Error{Code: ECONSENT, Message: "the user must consent"}), nil
			}
			return Decision{Consent: true, Client: c}, nil
		}
	}
	return o.issueCode(ctx, req, c, *p, meta)
}

// needsSignIn: no session, a session of another tenant or another user
// than id_token_hint names, prompt=login newer than the sign-in, or max_age
// older than it.
func (o *OAuth) needsSignIn(req AuthRequest, c Client, p *BrowserPrincipal) bool {
	switch {
	case p == nil, p.User.TenantID != c.TenantID, p.User.MustChangePassword:
		return true
	case req.HintSubject != "" && req.HintSubject != p.User.ID.String():
		return true
	case slices.Contains(req.Prompt, "login") || slices.Contains(req.Prompt, "select_account"):
		// Fresh credentials: a sign-in after this request was made.
		return p.Session.AuthTime.Before(req.IssuedAt.Truncate(time.Second))
	case req.MaxAge != nil:
		return o.now().Sub(p.Session.AuthTime) > time.Duration(*req.MaxAge)*time.Second
	}
	return false
}

func subset(want, have []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// Consent records the user's answer on the consent page: allow remembers
// the scopes for this client and issues the code; deny sends access_denied
// back.
func (o *OAuth) Consent(ctx context.Context, req AuthRequest, p BrowserPrincipal, allow bool, meta Meta) (Decision, error) {
	c, err := o.store.ClientByID(ctx, req.ClientID)
	if err != nil || c.Status != ClientActive {
		return Decision{}, &AuthorizeError{Err: Errorf(EINVALIDCLIENT, "unknown client_id")}
	}
	ev := event(EventConsent, OutcomeSuccess, strings.Join(req.Scopes, " "), meta).forUser(p.User)
	ev.ClientID = c.ID
	if !allow {
		ev.Outcome = OutcomeFailure
		o.audit.recordBestEffort(ctx, ev)
		return o.errorRedirect(req, &Error{Code: EACCESSDENIED, Message: "the user denied the request"}), nil
	}
	err = o.store.InTx(ctx, func(tx Tx) error {
		if err := tx.SaveConsent(ctx, p.User.ID, c.ID, req.Scopes, o.now()); err != nil {
			return err
		}
		return o.audit.record(ctx, tx, ev)
	})
	if err != nil {
		return Decision{}, err
	}
	return o.issueCode(ctx, req, c, p, meta)
}

// Consent events, for the audit log.
const (
	EventConsent       = "consent"
	EventConsentRevoke = "consent_revoke"
	EventCodeIssued    = "code_issued"
	EventCodeReuse     = "code_reuse_detected"
)

// issueCode stores a new code and redirects to the client with it.
func (o *OAuth) issueCode(ctx context.Context, req AuthRequest, c Client, p BrowserPrincipal, meta Meta) (Decision, error) {
	raw, err := token.NewOpaque()
	if err != nil {
		return Decision{}, err
	}
	now := o.now()
	bid := p.Session.ID
	code := &AuthCode{Hash: token.HashOpaque(raw), ClientID: c.ID, UserID: p.User.ID, BrowserSessionID: &bid,
		RedirectURI: req.RedirectURI, Scopes: req.Scopes, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		AuthTime: p.Session.AuthTime, CreatedAt: now, ExpiresAt: now.Add(max(o.cfg.CodeTTL, codeTTLFloor))}
	err = o.store.InTx(ctx, func(tx Tx) error {
		if err := tx.CreateCode(ctx, code); err != nil {
			return err
		}
		ev := event(EventCodeIssued, OutcomeSuccess, "", meta).forUser(p.User).forSession(p.Session.ID)
		ev.ClientID = c.ID
		return o.audit.record(ctx, tx, ev)
	})
	if err != nil {
		return Decision{}, err
	}
	q := url.Values{"code": {raw}, "iss": {o.cfg.Issuer}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	return Decision{RedirectTo: withQuery(req.RedirectURI, q)}, nil
}

// errorRedirect sends an error back to the client's (checked) redirect_uri
// with state and iss (RFC 6749 4.1.2.1, RFC 9207).
func (o *OAuth) errorRedirect(req AuthRequest, e *Error) Decision {
	return Decision{RedirectTo: ErrorRedirect(req.RedirectURI, req.State, o.cfg.Issuer, OAuthErrorCode(e), e.Message)}
}

// ErrorRedirect is the redirect_uri with an error response.
func ErrorRedirect(redirectURI, state, issuer, code, desc string) string {
	q := url.Values{"error": {code}, "iss": {issuer}}
	if desc != "" {
		q.Set("error_description", desc)
	}
	if state != "" {
		q.Set("state", state)
	}
	return withQuery(redirectURI, q)
}

func withQuery(uri string, q url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + q.Encode()
}

// OAuthErrorCode is the protocol error of an authorization or token
// request failure (RFC 6749 4.1.2.1 and 5.2, OpenID Connect Core 3.1.2.6).
func OAuthErrorCode(err error) string {
	var e *Error
	if !asError(err, &e) {
		return "server_error"
	}
	switch e.Code {
	case EINVALID:
		return "invalid_request"
	case EINVALIDCLIENT:
		return "invalid_client"
	case EINVALIDSCOPE:
		return "invalid_scope"
	case ELOGINREQUIRED:
		return "login_required"
	case ECONSENT:
		return "consent_required"
	case EACCESSDENIED:
		return "access_denied"
	case EDENIED:
		return "invalid_grant"
	case EUNAVAILABLE:
		return "temporarily_unavailable"
	case EUNSUPPORTED:
		switch e.Reason {
		case "response_type":
			return "unsupported_response_type"
		case "grant_type":
			return "unsupported_grant_type"
		case "request":
			return "request_not_supported"
		case "request_uri":
			return "request_uri_not_supported"
		}
		return "invalid_request"
	case EFORBIDDEN:
		return "unauthorized_client"
	}
	return "server_error"
}

// EndSession is a checked RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0).
type EndSession struct {
	// RedirectTo is the registered post_logout_redirect_uri with state, or
	// "" for idp's own signed-out page.
	RedirectTo string
	// HintSubject is the user an id_token_hint named ("" without a valid
	// one): a sign-out without asking is only for that user's browser.
	HintSubject string
	// HintSession is the sid of id_token_hint: the browser session the
	// app's sign-in came from.
	HintSession string
	ClientName  string
}

// CheckEndSession validates a logout request. The client comes from the
// hint's audience or client_id (both must agree); a
// post_logout_redirect_uri must be registered for it exactly, else the
// request is refused without a redirect. An expired hint is still a hint.
func (o *OAuth) CheckEndSession(ctx context.Context, hint, clientID, postLogout, state string) (EndSession, error) {
	var out EndSession
	if hint != "" {
		claims, err := o.keys.VerifyIDTokenHint(hint)
		if err != nil {
			return EndSession{}, Errorf(EINVALID, "id_token_hint is not an ID token idp issued")
		}
		if clientID != "" && clientID != claims.Audience {
			return EndSession{}, Errorf(EINVALID, "client_id doesn't match the id_token_hint")
		}
		clientID, out.HintSubject, out.HintSession = claims.Audience, claims.Subject, claims.SessionID
	}
	if clientID == "" {
		if postLogout != "" {
			return EndSession{}, Errorf(EINVALID, "post_logout_redirect_uri needs client_id or id_token_hint")
		}
		return out, nil
	}
	c, err := o.store.ClientByID(ctx, clientID)
	if err != nil {
		if isCode(err, ENOTFOUND) {
			return EndSession{}, Errorf(EINVALIDCLIENT, "unknown client_id")
		}
		return EndSession{}, err
	}
	out.ClientName = c.Name
	if postLogout != "" {
		if !slices.Contains(c.PostLogoutRedirectURIs, postLogout) {
			return EndSession{}, Errorf(EINVALID, "post_logout_redirect_uri is not registered for this client")
		}
		q := url.Values{}
		if state != "" && len(state) <= maxStateBytes {
			q.Set("state", state)
		}
		out.RedirectTo = postLogout
		if len(q) > 0 {
			out.RedirectTo = withQuery(postLogout, q)
		}
	}
	return out, nil
}

// EndHintedSession ends the browser session an id_token_hint names, with
// the sessions it started, for a logout arriving after that browser
// session idled out or from a browser without its cookie: the app asked
// to sign its user out, and its sessions must not outlive that. Only a
// browser session of the hint's own user is ended.
func (o *OAuth) EndHintedSession(ctx context.Context, es EndSession, meta Meta) error {
	sid, err := uuid.Parse(es.HintSession)
	if err != nil || es.HintSubject == "" {
		return nil
	}
	b, err := o.store.BrowserSessionByID(ctx, sid)
	if isCode(err, ENOTFOUND) {
		return nil
	}
	if err != nil {
		return err
	}
	if b.UserID.String() != es.HintSubject {
		return nil
	}
	return o.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.RevokeSession(ctx, b.ID, "logout", o.now())
		if err != nil || n == 0 {
			return err
		}
		ev := event(EventLogout, OutcomeSuccess, "end_session", meta).forSession(b.ID)
		uid, tid := b.UserID, b.TenantID
		ev.SubjectID, ev.TenantID = &uid, &tid
		return o.audit.record(ctx, tx, ev)
	})
}
