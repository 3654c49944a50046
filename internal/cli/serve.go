package cli

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/server"
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
			a, err := openApp(ctx, cfg, log)
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

			l, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("listen on http.addr %s: %w", cfg.HTTPAddr, err)
			}
			srv := server.New(server.Options{
				Services:          a.svcs,
				Logger:            log,
				Issuer:            cfg.Issuer,
				TrustedProxies:    cfg.TrustedProxies,
				Ready:             a.ready,
				JWKSMaxAge:        5 * time.Minute,
				RequestTimeout:    10 * time.Second,
				PasswordMinLength: cfg.PasswordMinLength,
			})
			log.Info("idp serving", "addr", l.Addr().String(), "issuer", cfg.Issuer, "kid", a.svcs.Keys.ActiveKID(), "version", Version)
			err = srv.Serve(ctx, l, cfg.HTTPShutdownGrace)
			log.Info("idp stopped")
			return err
		},
	}
}
