package core

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core/token"
)

// Client is a registered OAuth 2.0 / OpenID Connect client (an app that
// signs its users in through idp: docs/integrate.md).
type Client struct {
	ID                     string
	TenantID               uuid.UUID
	TenantSlug             string
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Public clients (SPAs, native apps) hold no secret and must use PKCE;
	// confidential ones authenticate with their secret.
	Public bool
	// FirstParty clients skip the consent page.
	FirstParty  bool
	Scopes      []string // the scopes it may ask for
	GrantTypes  []string
	IDTokenAlg  string // "EdDSA" or "RS256"
	CORSOrigins []string
	// SecretHash is the SHA-256 of a confidential client's secret.
	SecretHash      []byte
	SecretRotatedAt *time.Time
	Status          string // ClientActive or ClientDisabled
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Client states, grants, scopes and ID token algorithms.
const (
	ClientActive   = "active"
	ClientDisabled = "disabled"

	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"

	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeRoles         = "roles"
	ScopeOfflineAccess = "offline_access"
)

// SupportedScopes are the scopes idp knows, in the order discovery lists
// them.
var SupportedScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeRoles, ScopeOfflineAccess}

// HasGrant reports whether the client may use grant.
func (c Client) HasGrant(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// ClientInput registers or updates a client. For an update, nil fields stay
// as they are.
type ClientInput struct {
	Name                   *string
	Tenant                 string // create only; "" is the default tenant
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 *bool // create only: a client can't change kind
	FirstParty             *bool
	Scopes                 []string
	GrantTypes             []string
	IDTokenAlg             *string
	CORSOrigins            []string
	// setRedirects and friends say a list was given (even empty), for
	// update: ClientInput.Set marks them.
	set map[string]bool
}

// Set marks the list fields an update gives (an empty list clears it).
func (in *ClientInput) Set(field string) {
	if in.set == nil {
		in.set = map[string]bool{}
	}
	in.set[field] = true
}

func (in ClientInput) given(field string, list []string) bool { return in.set[field] || list != nil }

// ClientView is a client as `idp clients` shows it (CONTRACT 7); Secret is
// set only when one was just made, and shown once.
type ClientView struct {
	ClientID               string    `json:"client_id"`
	ClientSecret           string    `json:"client_secret,omitempty"`
	Name                   string    `json:"name"`
	Tenant                 string    `json:"tenant"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Public                 bool      `json:"public"`
	FirstParty             bool      `json:"first_party"`
	Scopes                 []string  `json:"scopes"`
	GrantTypes             []string  `json:"grant_types"`
	IDTokenAlg             string    `json:"id_token_alg"`
	CORSOrigins            []string  `json:"cors_origins"`
	Status                 string    `json:"status"`
	CreatedAt              time.Time `json:"created_at"`
}

// View renders c for callers.
func (c Client) View() ClientView {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return ClientView{ClientID: c.ID, Name: c.Name, Tenant: c.TenantSlug, RedirectURIs: orEmpty(c.RedirectURIs),
		PostLogoutRedirectURIs: orEmpty(c.PostLogoutRedirectURIs), Public: c.Public, FirstParty: c.FirstParty,
		Scopes: orEmpty(c.Scopes), GrantTypes: orEmpty(c.GrantTypes), IDTokenAlg: c.IDTokenAlg,
		CORSOrigins: orEmpty(c.CORSOrigins), Status: c.Status, CreatedAt: c.CreatedAt}
}

// Clients registers and manages OAuth clients.
type Clients struct{ *env }

// Client events, for the audit log.
const (
	EventClientCreate = "client_create"
	EventClientUpdate = "client_update"
	EventClientSecret = "client_secret_rotate"
	EventClientDelete = "client_delete"
)

func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Create registers a client; a confidential one gets a secret, returned
// once in the view.
func (cs *Clients) Create(ctx context.Context, in ClientInput, meta Meta) (ClientView, error) {
	if in.Name == nil {
		return ClientView{}, Errorf(EINVALID, "name is required")
	}
	c := Client{ID: newClientID(), Public: in.Public != nil && *in.Public, FirstParty: in.FirstParty != nil && *in.FirstParty,
		IDTokenAlg: AlgEdDSA, Scopes: SupportedScopes, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
		Status: ClientActive}
	if err := cs.apply(&c, in); err != nil {
		return ClientView{}, err
	}
	t, err := cs.store.TenantBySlug(ctx, cs.tenantOrDefault(in.Tenant))
	if err != nil {
		return ClientView{}, notFoundAs(err, "tenant %q not found", cs.tenantOrDefault(in.Tenant))
	}
	c.TenantID, c.TenantSlug = t.ID, t.Slug
	var secret string
	if !c.Public {
		if secret, err = cs.newSecret(&c); err != nil {
			return ClientView{}, err
		}
	}
	err = cs.store.InTx(ctx, func(tx Tx) error {
		if err := tx.CreateClient(ctx, &c); err != nil {
			return err
		}
		return cs.audit.record(ctx, tx, clientEvent(EventClientCreate, c, meta))
	})
	if err != nil {
		return ClientView{}, err
	}
	v := c.View()
	v.ClientSecret = secret
	return v, nil
}

func (cs *Clients) newSecret(c *Client) (string, error) {
	secret, err := token.NewOpaque()
	if err != nil {
		return "", err
	}
	now := cs.now()
	c.SecretHash, c.SecretRotatedAt = token.HashOpaque(secret), &now
	return secret, nil
}

func clientEvent(name string, c Client, meta Meta) *AuditEvent {
	ev := event(name, OutcomeSuccess, "", meta)
	ev.ClientID, ev.ClientIDVerified = c.ID, false
	tid := c.TenantID
	ev.TenantID, ev.TenantSlug = &tid, c.TenantSlug
	return ev
}

// apply validates in and copies what it gives onto c.
func (cs *Clients) apply(c *Client, in ClientInput) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" || len(name) > 200 || strings.ContainsFunc(name, hidden) || !utf8.ValidString(name) {
			return Errorf(EINVALID, "name must be 1-200 bytes of printable text")
		}
		c.Name = name
	}
	// Origins derived from the redirect URIs follow them; origins given
	// explicitly stay until changed explicitly.
	derived := slices.Equal(c.CORSOrigins, originsOf(c.RedirectURIs))
	if in.given("redirect_uris", in.RedirectURIs) {
		uris, err := checkRedirectURIs(in.RedirectURIs, "redirect_uri")
		if err != nil {
			return err
		}
		if len(uris) == 0 {
			return Errorf(EINVALID, "at least one redirect_uri is required")
		}
		c.RedirectURIs = uris
	}
	if in.given("post_logout_redirect_uris", in.PostLogoutRedirectURIs) {
		uris, err := checkRedirectURIs(in.PostLogoutRedirectURIs, "post_logout_redirect_uri")
		if err != nil {
			return err
		}
		c.PostLogoutRedirectURIs = uris
	}
	if in.FirstParty != nil {
		c.FirstParty = *in.FirstParty
	}
	if in.given("scopes", in.Scopes) {
		scopes, err := checkScopes(in.Scopes)
		if err != nil {
			return err
		}
		c.Scopes = scopes
	}
	if in.given("grant_types", in.GrantTypes) {
		grants := []string{GrantAuthorizationCode}
		for _, g := range in.GrantTypes {
			switch g {
			case GrantAuthorizationCode:
			case GrantRefreshToken:
				grants = append(grants, g)
			default:
				return Errorf(EINVALID, "grant type %q is not supported (authorization_code, refresh_token)", Clean(g, 64))
			}
		}
		c.GrantTypes = grants
	}
	if in.IDTokenAlg != nil {
		if *in.IDTokenAlg != AlgEdDSA && *in.IDTokenAlg != AlgRS256 {
			return Errorf(EINVALID, "id_token_alg must be EdDSA or RS256")
		}
		c.IDTokenAlg = *in.IDTokenAlg
	}
	if in.given("cors_origins", in.CORSOrigins) {
		origins, err := checkOrigins(in.CORSOrigins)
		if err != nil {
			return err
		}
		c.CORSOrigins = origins
	} else if in.given("redirect_uris", in.RedirectURIs) && derived {
		c.CORSOrigins = originsOf(c.RedirectURIs)
	}
	return nil
}

// maxRedirectURIs bounds a client's list (and so the work of matching).
const maxRedirectURIs = 20

// checkRedirectURIs accepts absolute URIs without fragment (RFC 6749
// 3.1.2): https; http only on a loopback host (RFC 8252 7.3, any port);
// or a private-use scheme of reverse-domain form for native apps (RFC 8252
// 7.1, e.g. com.example.app:/callback).
func checkRedirectURIs(uris []string, what string) ([]string, error) {
	if len(uris) > maxRedirectURIs {
		return nil, Errorf(EINVALID, "at most %d %ss", maxRedirectURIs, what)
	}
	out := make([]string, 0, len(uris))
	for _, raw := range uris {
		if err := checkRedirectURI(raw); err != nil {
			return nil, Errorf(EINVALID, "%s %q: %s", what, Clean(raw, 200), err.Message)
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	return out, nil
}

func checkRedirectURI(raw string) *Error {
	if raw == "" || len(raw) > 2000 || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || hidden(r) }) {
		return Errorf(EINVALID, "is empty, too long or holds spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return Errorf(EINVALID, "is not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return Errorf(EINVALID, "must not have a fragment")
	}
	if u.User != nil {
		return Errorf(EINVALID, "must not hold user information")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return Errorf(EINVALID, "has no host")
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return Errorf(EINVALID, "must use https (http only for a loopback address such as http://127.0.0.1)")
		}
	default:
		if !strings.Contains(u.Scheme, ".") || u.Host != "" {
			return Errorf(EINVALID, "must be https, loopback http, or a reverse-domain private-use scheme (com.example.app:/callback)")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedirectMatches reports whether the authorization request's redirect_uri
// is one the client registered: exactly, except that a loopback http URI
// matches on any port (RFC 8252 7.3: native apps pick a free port).
func (c Client) RedirectMatches(requested string, registered []string) bool {
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	ru, err := url.Parse(requested)
	if err != nil || ru.Scheme != "http" || !isLoopback(ru.Hostname()) {
		return false
	}
	for _, r := range registered {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "http" || u.Hostname() != ru.Hostname() {
			continue
		}
		if u.Path == ru.Path && u.RawQuery == ru.RawQuery {
			return true
		}
	}
	return false
}

func checkScopes(scopes []string) ([]string, error) {
	out := []string{}
	for _, s := range scopes {
		if !slices.Contains(SupportedScopes, s) {
			return nil, Errorf(EINVALID, "scope %q is not supported (%s)", Clean(s, 64), strings.Join(SupportedScopes, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if !slices.Contains(out, ScopeOpenID) {
		out = append([]string{ScopeOpenID}, out...)
	}
	return out, nil
}

// checkOrigins accepts scheme://host[:port] origins, nothing more.
func checkOrigins(origins []string) ([]string, error) {
	out := []string{}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" ||
			u.Fragment != "" || u.User != nil || (u.Scheme == "http" && !isLoopback(u.Hostname())) {
			return nil, Errorf(EINVALID, "CORS origin %q must be https://host[:port] (http only on loopback)", Clean(o, 200))
		}
		if !slices.Contains(out, strings.ToLower(o)) {
			out = append(out, strings.ToLower(o))
		}
	}
	return out, nil
}

// originsOf derives a client's CORS origins from its web redirect URIs.
func originsOf(uris []string) []string {
	out := []string{}
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		o := strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// List returns the clients of tenant ("" for every tenant).
func (cs *Clients) List(ctx context.Context, tenant string) ([]ClientView, error) {
	var tid *uuid.UUID
	if tenant != "" {
		t, err := cs.store.TenantBySlug(ctx, tenant)
		if err != nil {
			return nil, notFoundAs(err, "tenant %q not found", tenant)
		}
		tid = &t.ID
	}
	clients, err := cs.store.ListClients(ctx, tid)
	if err != nil {
		return nil, err
	}
	out := make([]ClientView, 0, len(clients))
	for _, c := range clients {
		out = append(out, c.View())
	}
	return out, nil
}

// Get returns one client.
func (cs *Clients) Get(ctx context.Context, id string) (ClientView, error) {
	c, err := cs.store.ClientByID(ctx, id)
	if err != nil {
		return ClientView{}, notFoundAs(err, "client %q not found", Clean(id, 64))
	}
	return c.View(), nil
}

// Update changes what in gives. A client can't change kind (public or
// confidential) or tenant: register a new one.
func (cs *Clients) Update(ctx context.Context, id string, in ClientInput, meta Meta) (ClientView, error) {
	if in.Public != nil || in.Tenant != "" {
		return ClientView{}, Errorf(EINVALID, "a client's kind (public or confidential) and tenant can't change: register a new client")
	}
	var c Client
	err := cs.store.InTx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.ClientByID(ctx, id); err != nil {
			return notFoundAs(err, "client %q not found", Clean(id, 64))
		}
		if err := cs.apply(&c, in); err != nil {
			return err
		}
		if err := tx.UpdateClient(ctx, &c); err != nil {
			return err
		}
		return cs.audit.record(ctx, tx, clientEvent(EventClientUpdate, c, meta))
	})
	return c.View(), err
}

// SetStatus disables (or re-enables) a client: a disabled client can't
// start sign-ins, exchange codes or refresh, and its sessions are revoked.
func (cs *Clients) SetStatus(ctx context.Context, id, status string, meta Meta) (ClientView, error) {
	if status != ClientActive && status != ClientDisabled {
		return ClientView{}, Errorf(EINVALID, "status must be active or disabled")
	}
	var c Client
	err := cs.store.InTx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.ClientByID(ctx, id); err != nil {
			return notFoundAs(err, "client %q not found", Clean(id, 64))
		}
		c.Status = status
		if err := tx.UpdateClient(ctx, &c); err != nil {
			return err
		}
		if status == ClientDisabled {
			if _, err := tx.RevokeClientSessions(ctx, c.ID, "client_disabled", cs.now()); err != nil {
				return err
			}
		}
		ev := clientEvent(EventClientUpdate, c, meta)
		ev.Reason = status
		return cs.audit.record(ctx, tx, ev)
	})
	return c.View(), err
}

// RotateSecret gives a confidential client a new secret (shown once); the
// old one stops working at once.
func (cs *Clients) RotateSecret(ctx context.Context, id string, meta Meta) (ClientView, error) {
	var c Client
	var secret string
	err := cs.store.InTx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.ClientByID(ctx, id); err != nil {
			return notFoundAs(err, "client %q not found", Clean(id, 64))
		}
		if c.Public {
			return Errorf(ECONFLICT, "client %q is public: it has no secret", c.ID)
		}
		if secret, err = cs.newSecret(&c); err != nil {
			return err
		}
		if err := tx.UpdateClient(ctx, &c); err != nil {
			return err
		}
		return cs.audit.record(ctx, tx, clientEvent(EventClientSecret, c, meta))
	})
	if err != nil {
		return ClientView{}, err
	}
	v := c.View()
	v.ClientSecret = secret
	return v, nil
}

// Delete removes a client with its codes and consents, and revokes its
// sessions.
func (cs *Clients) Delete(ctx context.Context, id string, meta Meta) error {
	return cs.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.ClientByID(ctx, id)
		if err != nil {
			return notFoundAs(err, "client %q not found", Clean(id, 64))
		}
		if _, err := tx.RevokeClientSessions(ctx, c.ID, "client_deleted", cs.now()); err != nil {
			return err
		}
		if err := tx.DeleteClient(ctx, c.ID); err != nil {
			return err
		}
		return cs.audit.record(ctx, tx, clientEvent(EventClientDelete, c, meta))
	})
}

// errBadClient is the one answer for every failed client authentication.
var errBadClient = &Error{Code: EINVALIDCLIENT, Message: "client authentication failed"}

// EventClientAuthFailure is a failed client authentication, for the audit
// log.
const EventClientAuthFailure = "client_auth_failure"

// Authenticate checks a client's credentials: a confidential client must
// send its secret; a public client sends none (secret == "" and it is
// public). Unknown and disabled clients fail like a wrong secret. Failures
// are audited and limited per client IP (ratelimit.ip_per_minute; past it
// 429 and one aggregated audit row a minute), successes are not: a
// confidential app's backend exchanges every user's codes from one IP.
func (cs *Clients) Authenticate(ctx context.Context, id, secret string, meta Meta) (Client, error) {
	if id == "" || len(id) > 128 || len(secret) > 512 {
		return Client{}, cs.authFailure(ctx, id, ReasonInvalidRequest, meta)
	}
	c, err := cs.store.ClientByID(ctx, id)
	if isCode(err, ENOTFOUND) {
		return Client{}, cs.authFailure(ctx, id, "unknown_client", meta)
	}
	if err != nil {
		return Client{}, err
	}
	switch {
	case c.Status != ClientActive:
		return Client{}, cs.authFailure(ctx, id, "client_disabled", meta)
	case c.Public:
		if secret != "" {
			// A public client has no secret to send.
			return Client{}, cs.authFailure(ctx, id, "public_with_secret", meta)
		}
	case subtle.ConstantTimeCompare(token.HashOpaque(secret), c.SecretHash) != 1:
		return Client{}, cs.authFailure(ctx, id, "bad_secret", meta)
	}
	return c, nil
}

func (cs *Clients) authFailure(ctx context.Context, id, reason string, meta Meta) error {
	ev := event(EventClientAuthFailure, OutcomeFailure, reason, meta)
	ev.ClientID, ev.ClientIDVerified = Clean(id, maxClientID), false
	if err := cs.limitIPAudited(ctx, "client_auth", ev, meta); err != nil {
		return err
	}
	cs.audit.recordBestEffort(ctx, ev)
	return errBadClient
}
