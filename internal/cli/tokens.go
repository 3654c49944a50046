package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newTokensCmd) }

func newTokensCmd(g *globals) *cobra.Command {
	cmd := group("tokens", "Revoke sessions (refresh token families)")
	cmd.AddCommand(newTokensRevokeCmd(g))
	return cmd
}

type revokeOptions struct {
	email   string
	tenant  string
	session string
	all     bool
}

// form picks which of the three revocations was asked for. Exactly one must
// be: a stray flag could otherwise widen a revocation, e.g. --tenant with
// --session silently ignoring the tenant.
func (o revokeOptions) form() (string, error) {
	const usage = "use exactly one of --email E [--tenant T], --session SID, or --tenant T --all"
	switch {
	case o.email != "" && o.session == "" && !o.all:
		return "user", nil
	case o.session != "" && o.email == "" && o.tenant == "" && !o.all:
		return "session", nil
	case o.all && o.tenant != "" && o.email == "" && o.session == "":
		return "tenant", nil
	case o.all && o.tenant == "" && o.email == "" && o.session == "":
		return "", usageErr("--all needs --tenant T (%s)", usage)
	}
	return "", usageErr("%s", usage)
}

func newTokensRevokeCmd(g *globals) *cobra.Command {
	var o revokeOptions
	cmd := &cobra.Command{
		Use:   "revoke (--email E [--tenant T] | --session SID | --tenant T --all)",
		Short: "Revoke every session of a user, one session, or every session of a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			form, err := o.form()
			if err != nil {
				return err
			}
			return g.withApp(cmd.Context(), func(a *app) error {
				var (
					res  core.RevokeResult
					what string
				)
				ctx, s := cmd.Context(), a.svcs.Sessions
				switch form {
				case "user":
					res, err = s.RevokeUser(ctx, o.tenant, o.email, cliMeta())
					tenant := o.tenant
					if tenant == "" {
						tenant = a.cfg.DefaultTenant
					}
					what = fmt.Sprintf("of %s in tenant %s", core.NormalizeEmail(o.email), tenant)
				case "session":
					res, err = s.RevokeSessionID(ctx, o.session, cliMeta())
					what = "with id " + o.session
				case "tenant":
					res, err = s.RevokeTenant(ctx, o.tenant, cliMeta())
					what = "of tenant " + o.tenant
				}
				if err != nil {
					return err
				}
				return g.print(res, func(p *printer) {
					p.success(fmt.Sprintf("revoked %d %s %s", res.Revoked, plural(res.Revoked, "session", "sessions"), what))
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.email, "email", "", "revoke every session of this user")
	f.StringVar(&o.tenant, "tenant", "", "tenant of --email (default: tenants.default), or the tenant of --all")
	f.StringVar(&o.session, "session", "", "revoke this one session (its sid)")
	f.BoolVar(&o.all, "all", false, "with --tenant: revoke every session of the tenant")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
