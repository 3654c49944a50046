// Command go-oidc-app is a web app that signs its users in through idp
// with OpenID Connect (docs/integrate.md, "Sign users in"):
// golang.org/x/oauth2 runs the authorization code flow with PKCE and
// refreshes tokens; github.com/coreos/go-oidc/v3 finds idp's endpoints
// by discovery and verifies each ID token against idp's JWKS.
//
//	GET  /            who is signed in, or a link to sign in
//	GET  /me          the same as JSON (401 when signed out)
//	GET  /login       off to idp's sign-in page
//	GET  /callback    back from idp: state, code, ID token, nonce, userinfo
//	POST /refresh     new tokens through the refresh token
//	POST /logout      off to idp's end_session_endpoint with id_token_hint
//	GET  /signed-out  back from idp's sign-out
//
// Configuration: IDP_ISSUER (idp's issuer URL), CLIENT_ID and
// CLIENT_SECRET (from `idp clients create`), APP_URL (this app's own URL,
// default http://127.0.0.1:8082: APP_URL/callback must be a registered
// redirect URI and APP_URL/signed-out a post-logout one), ID_TOKEN_ALG
// (the client's --id-token-alg: EdDSA, the default, or RS256).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// app is the relying party: its OAuth 2.0 client, the ID token verifier
// and the signed-in browsers.
type app struct {
	url, issuer string
	provider    *oidc.Provider
	oauth       oauth2.Config
	verifier    *oidc.IDTokenVerifier
	endSession  string
	sessions    *sessions
}

// run serves until ctx ends. It prints "listening on ADDR" once ready.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	issuer, appURL, alg := getenv("IDP_ISSUER"), getenv("APP_URL"), getenv("ID_TOKEN_ALG")
	if issuer == "" || getenv("CLIENT_ID") == "" {
		return errors.New("IDP_ISSUER and CLIENT_ID are required (see `idp clients create`)")
	}
	if appURL == "" {
		appURL = "http://127.0.0.1:8082"
	}
	if alg == "" {
		alg = oidc.EdDSA
	}
	u, err := url.Parse(appURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("APP_URL %q is not a URL", appURL)
	}
	// Discovery: the issuer must be exactly idp's issuer setting.
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	a := &app{
		url: appURL, issuer: issuer, provider: provider, endSession: meta.EndSession, sessions: newSessions(),
		oauth: oauth2.Config{
			ClientID: getenv("CLIENT_ID"), ClientSecret: getenv("CLIENT_SECRET"),
			Endpoint: provider.Endpoint(), RedirectURL: appURL + "/callback",
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		},
		// One algorithm, the one the client is registered with: a token
		// signed any other way is refused.
		verifier: provider.Verifier(&oidc.Config{ClientID: getenv("CLIENT_ID"), SupportedSigningAlgs: []string{alg}}),
	}

	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(stdout, "listening on %s\n", l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /me", a.me)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /signed-out", a.signedOut)
	return mux
}
