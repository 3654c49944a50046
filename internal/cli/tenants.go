package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newTenantsCmd) }

// tenantView is core.Tenant for JSON output: core types carry no json tags
// unless a transport shows them as they are.
type tenantView struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func viewTenant(t core.Tenant) tenantView {
	return tenantView{ID: t.ID.String(), Slug: t.Slug, Name: t.Name, Status: string(t.Status), CreatedAt: t.CreatedAt.UTC()}
}

func newTenantsCmd(g *globals) *cobra.Command {
	cmd := group("tenants", "Create, list and disable tenants")

	var name string
	create := &cobra.Command{
		Use:   "create SLUG [--name N]",
		Short: "Create a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				t, err := a.svcs.Tenants.Create(cmd.Context(), args[0], name, cliMeta())
				if err != nil {
					return err
				}
				return g.print(viewTenant(t), func(p *printer) {
					p.success(fmt.Sprintf("created tenant %s (%s)", t.Slug, t.Name))
				})
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name (default: the slug)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				tenants, err := a.svcs.Tenants.List(cmd.Context())
				if err != nil {
					return err
				}
				views := make([]tenantView, 0, len(tenants))
				rows := make([][]string, 0, len(tenants))
				for _, t := range tenants {
					views = append(views, viewTenant(t))
					rows = append(rows, []string{t.Slug, t.Name, string(t.Status), tsAt(t.CreatedAt)})
				}
				return g.print(map[string]any{"tenants": views}, func(p *printer) {
					p.table([]string{"SLUG", "NAME", "STATUS", "CREATED"}, rows)
				})
			})
		},
	}

	disable := &cobra.Command{
		Use:   "disable SLUG",
		Short: "Disable a tenant and revoke all its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				t, err := a.svcs.Tenants.Disable(cmd.Context(), args[0], cliMeta())
				if err != nil {
					return err
				}
				return g.print(viewTenant(t), func(p *printer) {
					p.success(fmt.Sprintf("disabled tenant %s; every session revoked", t.Slug))
				})
			})
		},
	}

	cmd.AddCommand(create, list, disable)
	return cmd
}
