package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/server"
	"github.com/idp-dev/idp/internal/web"
)

func newServeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := g.config()
			if err != nil {
				return err
			}
			// Every line logged while serving a request, core's included,
			// carries that request's id.
			log := slog.New(server.NewLogHandler(newLogger(g.stderr, cfg.LogLevel).Handler()))
			reserveSchedulerThread(cfg.MaxConcurrentHashes, g.getenv, log)
			m := newMetrics(cfg, log)
			a, err := openObservedApp(ctx, cfg, log, m)
			if err != nil {
				return err
			}
			defer a.Close()

			if err := requireMigrated(ctx, a); err != nil {
				return err
			}
			if err := a.svcs.Keys.Ensure(ctx, cliMeta()); err != nil {
				return err
			}
			if err := a.svcs.Keys.Load(ctx); err != nil {
				return err
			}
			go a.svcs.Keys.Watch(ctx)
			// The background workers stop when serve returns, whether after
			// SIGTERM or an error such as a taken http.addr (waiting for the
			// signal context alone would hang there), and they finish before
			// the database closes: the outbox worker the mail it is sending,
			// the janitor its batch. Every instance runs the janitor; the
			// maintenance lock lets one work at a time.
			workCtx, stopWork := context.WithCancel(ctx)
			var workers sync.WaitGroup
			workers.Go(func() { a.svcs.Mail.Run(workCtx) })
			workers.Go(func() { a.svcs.Maintenance.Run(workCtx, cfg.MaintenanceInterval) })
			defer func() { stopWork(); workers.Wait() }()

			requests, stopMetrics, err := startMetrics(cfg, m, a, log)
			if err != nil {
				return err
			}
			defer stopMetrics()
			l, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("listen on http.addr %s: %w", cfg.HTTPAddr, err)
			}
			maxConns := cfg.HTTPMaxConnections
			if maxConns == 0 {
				maxConns = server.MachineMaxConnections()
			}
			pages, err := newPages(cfg, a, log)
			if err != nil {
				_ = l.Close()
				return err
			}
			var tlsConf *tls.Config
			if cfg.TLSCertFile != "" {
				certs, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log)
				if err != nil {
					_ = l.Close()
					return err
				}
				tlsConf = certs.tlsConfig()
			}
			srv := server.New(server.Options{
				Services:       a.svcs,
				Logger:         log,
				Issuer:         cfg.Issuer,
				TrustedProxies: cfg.TrustedProxies,
				IPv6Prefix:     cfg.IPv6Prefix,
				Ready:          a.ready,
				JWKSMaxAge:     cfg.JWKSMaxAge,
				RequestTimeout: 10 * time.Second,
				MaxConnections: maxConns,
				TLS:            tlsConf,
				Faces:          []server.Face{pages},
				UILocales:      pages.Languages(),
				Requests:       requests,
			})
			log.Info("idp serving", "addr", l.Addr().String(), "issuer", cfg.Issuer, "kid", a.svcs.Keys.ActiveKID(), "version", Version,
				"max_connections", maxConns, "max_connections_per_ip", server.PerIPConnections(maxConns))
			err = srv.Serve(ctx, l, cfg.HTTPShutdownGrace)
			log.Info("idp stopped")
			return err
		},
	}
}

// newPages builds the hosted pages on the app's services.
func newPages(cfg *Config, a *app, log *slog.Logger) (*web.Face, error) {
	r, err := web.NewRenderer(web.RenderOptions{ProductName: cfg.UI.ProductName, LogoFile: cfg.UI.LogoFile,
		AccentColor: cfg.UI.AccentColor, TemplatesDir: cfg.UI.TemplatesDir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	return web.New(web.Options{
		Browser: a.svcs.Browser, Users: a.svcs.Users, Resets: a.svcs.Resets, OAuth: a.svcs.OAuth, Renderer: r,
		Admin: a.svcs.Admin, Roles: a.svcs.Roles,
		Issuer: cfg.Issuer, Meta: server.RequestMeta, PasswordMinLength: cfg.PasswordMinLength,
		DeviceTokenTTL: cfg.DeviceTokenTTL, DefaultTenant: cfg.DefaultTenant, Logger: log,
	})
}

// reserveSchedulerThread keeps one Go thread free of bcrypt. With as many
// threads as hashing slots, a login flood keeps every thread hashing and a
// /me or /refresh waits for Go's 10 ms preemption several times: the bench
// measured /me p99 14.6x its idle value at GOMAXPROCS 2, 4.9x at 3 and 4.2x
// at 4, for 1-4 % of login throughput (docs/capacity.md). An operator's
// GOMAXPROCS wins.
func reserveSchedulerThread(hashSlots int, getenv func(string) string, log *slog.Logger) {
	if getenv("GOMAXPROCS") != "" {
		return
	}
	if procs := runtime.GOMAXPROCS(0); procs <= hashSlots {
		runtime.GOMAXPROCS(hashSlots + 1)
		log.Info("GOMAXPROCS raised above the hashing slots", "gomaxprocs", hashSlots+1, "hash_slots", hashSlots)
	}
}
