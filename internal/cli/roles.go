package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newRolesCmd) }

// newRolesCmd is `idp roles`: a tenant's role catalogue, through the same
// core.Roles methods as the admin API and pages.
func newRolesCmd(g *globals) *cobra.Command {
	cmd := group("roles", "Create, list and delete the roles of a tenant's catalogue")
	var tenant, description string

	create := &cobra.Command{
		Use:   "create NAME --tenant T [--description D]",
		Short: "Add a role to the tenant's catalogue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				r, err := a.svcs.Roles.Create(cmd.Context(), core.Operator(tenant), args[0], description, cliMeta())
				if err != nil {
					return err
				}
				return g.print(r, func(p *printer) {
					p.success(fmt.Sprintf("created role %s in tenant %s", r.Name, tenant))
				})
			})
		},
	}
	create.Flags().StringVar(&description, "description", "", "what the role is for (at most 200 bytes)")

	list := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List the tenant's roles with how many users hold each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				roles, err := a.svcs.Roles.List(cmd.Context(), core.Operator(tenant), cliMeta())
				if err != nil {
					return err
				}
				return g.print(map[string]any{"roles": roles}, func(p *printer) {
					rows := make([][]string, 0, len(roles))
					for _, r := range roles {
						name := r.Name
						if r.Builtin {
							name += " (built in)"
						}
						rows = append(rows, []string{name, dash(r.Description), strconv.Itoa(r.Holders), tsAt(r.CreatedAt)})
					}
					p.table([]string{"ROLE", "DESCRIPTION", "USERS", "CREATED"}, rows)
				})
			})
		},
	}

	del := &cobra.Command{
		Use:   "delete NAME --tenant T",
		Short: "Delete a role nobody holds (admin can't be deleted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				if err := a.svcs.Roles.Delete(cmd.Context(), core.Operator(tenant), args[0], cliMeta()); err != nil {
					return err
				}
				return g.print(map[string]any{"deleted": args[0], "tenant": tenant}, func(p *printer) {
					p.success(fmt.Sprintf("deleted role %s from tenant %s", args[0], tenant))
				})
			})
		},
	}

	for _, c := range []*cobra.Command{create, list, del} {
		c.Flags().StringVar(&tenant, "tenant", "", "tenant slug (required)")
		_ = c.MarkFlagRequired("tenant")
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
