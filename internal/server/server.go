// Package server is the HTTP face of idp: the JSON API of CONTRACT section 3
// on top of the core services. It translates requests into core calls and
// core error codes into responses; it holds no business rules.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// Options configure a Server.
type Options struct {
	Services *core.Services
	Logger   *slog.Logger
	// Issuer is the public base URL; discovery links are built from it.
	Issuer string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// IPv6Prefix is the prefix length IPv6 peers share a per-IP
	// connection share by (ratelimit.ipv6_prefix); zero means 64.
	IPv6Prefix int
	// Ready reports whether Postgres and Redis answer; /readyz calls it
	// with a 1 s timeout. Nil means always ready.
	Ready func(ctx context.Context) error
	// JWKSMaxAge is the Cache-Control max-age of JWKS and discovery;
	// zero means 5 minutes.
	JWKSMaxAge time.Duration
	// RequestTimeout bounds each request's context; zero means 10 seconds.
	RequestTimeout time.Duration
	// TLS, when set, serves https (HTTP/2 included) with its certificate;
	// nil serves plain http.
	TLS *tls.Config
	// Faces are the route groups served beside the JSON API: the hosted
	// pages (internal/web) and the OAuth endpoints. Each mounts its own
	// handlers on the server's mux, under its middleware.
	Faces []Face
	// UILocales are the languages of the hosted pages, for discovery's
	// ui_locales_supported.
	UILocales []string
	// Requests, when set, is told about every answered request (the
	// metrics of internal/metrics); nil tells nobody.
	Requests RequestObserver
	// MaxConnections caps the connections Serve holds open at once; a
	// client IP may hold PerIPConnections of it. Zero means
	// MachineMaxConnections.
	MaxConnections int
}

// RequestObserver is told about each request once it is answered. route is
// the pattern that served it ("unmatched" when none did) and method a
// standard method or "other", never the raw path or method, so an observer
// may use them as metric labels.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, elapsed time.Duration)
}

// Face is a group of routes beside the JSON API. It is given only the
// services it uses when it is made, and mounts its handlers here.
type Face interface {
	Mount(mux *http.ServeMux)
}

// Server serves the API.
type Server struct {
	opts      Options
	svc       *core.Services
	log       *slog.Logger
	mux       *http.ServeMux
	handler   http.Handler
	discovery staticDoc
	hsts      bool
	corsCache corsOrigins
}

// HTTP server limits. Our access tokens are under 8 KiB and the verifier
// refuses longer ones before parsing, so 64 KiB of headers is plenty;
// more gets net/http's 431. The cap bounds what a slow client can make the
// server hold: with 1.5 MiB, 40 connections that never finished their
// headers added 121 MiB (docs/api.md, "Basics").
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	readyTimeout      = time.Second
)

// New builds a Server. It does no I/O.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.JWKSMaxAge <= 0 {
		opts.JWKSMaxAge = 5 * time.Minute
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	opts.Issuer = strings.TrimRight(opts.Issuer, "/")
	s := &Server{
		opts: opts,
		svc:  opts.Services,
		log:  slog.New(NewLogHandler(opts.Logger.Handler())),
		hsts: strings.HasPrefix(strings.ToLower(opts.Issuer), "https://"),
	}
	s.discovery = newStaticDoc(discoveryDocument(opts.Issuer, opts.UILocales))
	s.mux = http.NewServeMux()
	s.routes()
	for _, f := range opts.Faces {
		f.Mount(s.mux)
	}
	s.handler = s.observe(s.secure(http.HandlerFunc(s.dispatch)))
	return s
}

// Handler is the whole API with its middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer returns an http.Server serving Handler with the server's
// timeouts and header limit, for callers that run the listener themselves
// (tests use it with httptest.Server).
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on l until ctx ends, then stops accepting and drains
// in-flight requests for up to grace; it returns nil after a clean drain.
// Requests are not cancelled when ctx ends: their contexts don't derive
// from it, which is what lets them finish. Connections over
// Options.MaxConnections, or over a client IP's share, are closed at once.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	total := s.opts.MaxConnections
	if total <= 0 {
		total = MachineMaxConnections()
	}
	l = newLimitListener(l, total, PerIPConnections(total), s.opts.IPv6Prefix, s.opts.TrustedProxies, s.log)
	hs := s.HTTPServer()
	errc := make(chan error, 1)
	if s.opts.TLS != nil {
		// ServeTLS with the certificate in TLS (GetCertificate) also
		// turns HTTP/2 on.
		hs.TLSConfig = s.opts.TLS
		go func() { errc <- hs.ServeTLS(l, "", "") }()
	} else {
		go func() { errc <- hs.Serve(l) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		_ = hs.Close()
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}
