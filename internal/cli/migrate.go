package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core/postgres"
)

func newMigrateCmd(g *globals) *cobra.Command {
	cmd := group("migrate", "Apply, roll back or list database migrations")
	var steps int
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration and create the first signing keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := g.config()
			if err != nil {
				return err
			}
			db, err := openMigrationDB(ctx, cfg)
			if err != nil {
				return err
			}
			m, err := postgres.NewMigrator(db.DB)
			if err != nil {
				db.Close()
				return err
			}
			applied, err := m.Up(ctx)
			db.Close()
			if err != nil {
				return err
			}
			// Signing keys and the default tenant are part of a usable
			// schema: create them here so the first servers never race to do
			// it, and `idp users create` works without naming a tenant.
			a, err := openApp(ctx, cfg, newLogger(g.stderr, "warn"))
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.svcs.Keys.Ensure(ctx, cliMeta()); err != nil {
				return err
			}
			if _, err := a.svcs.Tenants.Ensure(ctx, cfg.DefaultTenant, cliMeta()); err != nil {
				return err
			}
			return g.print(map[string]any{"applied": applied}, func(p *printer) {
				if len(applied) == 0 {
					p.success("database is up to date")
					return
				}
				for _, s := range applied {
					p.success(fmt.Sprintf("applied %04d %s", s.Version, s.Name))
				}
			})
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Roll back the newest migrations (default 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if steps < 1 {
				return usageErr("--steps must be at least 1")
			}
			return g.withMigrator(cmd, func(m *postgres.Migrator) error {
				done, err := m.Down(cmd.Context(), steps)
				if err != nil {
					return err
				}
				return g.print(map[string]any{"rolled_back": done}, func(p *printer) {
					if len(done) == 0 {
						p.line("nothing to roll back")
					}
					for _, s := range done {
						p.success(fmt.Sprintf("rolled back %04d %s", s.Version, s.Name))
					}
				})
			})
		},
	}
	down.Flags().IntVar(&steps, "steps", 1, "how many migrations to roll back")
	status := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withMigrator(cmd, func(m *postgres.Migrator) error {
				st, err := m.Status(cmd.Context())
				if err != nil {
					return err
				}
				return g.print(map[string]any{"migrations": st}, func(p *printer) {
					rows := make([][]string, 0, len(st))
					for _, s := range st {
						state := "pending"
						if s.Applied {
							state = "applied"
						}
						rows = append(rows, []string{strconv.FormatInt(s.Version, 10), s.Name, state})
					}
					p.table([]string{"VERSION", "NAME", "STATE"}, rows)
				})
			})
		},
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

func (g *globals) withMigrator(cmd *cobra.Command, fn func(m *postgres.Migrator) error) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	db, err := openMigrationDB(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := postgres.NewMigrator(db.DB)
	if err != nil {
		return err
	}
	return fn(m)
}
