package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newClientsCmd) }

// clientFlags are the flags of create and update (CONTRACT 7).
type clientFlags struct {
	name, tenant, idTokenAlg            string
	redirects, postLogout, scopes, cors []string
	public, firstParty, noRefresh       bool
}

func (o *clientFlags) bind(cmd *cobra.Command, create bool) {
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "the app's name, shown on the consent page")
	f.StringArrayVar(&o.redirects, "redirect-uri", nil, "redirect URI, matched exactly (repeatable; https, http://127.0.0.1 or localhost, or com.example.app:/path)")
	f.StringArrayVar(&o.postLogout, "post-logout-redirect-uri", nil, "where RP-initiated logout may send the browser (repeatable)")
	f.BoolVar(&o.firstParty, "first-party", false, "your own app: skips the consent page")
	f.StringArrayVar(&o.scopes, "scope", nil, "scope the client may ask for (repeatable; default: "+strings.Join(core.SupportedScopes, ", ")+")")
	f.StringVar(&o.idTokenAlg, "id-token-alg", "", "ID token algorithm: EdDSA (default) or RS256")
	f.StringArrayVar(&o.cors, "cors-origin", nil, "origin browsers may call the token and userinfo endpoints from (repeatable; default: the redirect URIs' origins)")
	f.BoolVar(&o.noRefresh, "no-refresh", false, "don't issue refresh tokens to this client")
	if create {
		f.StringVar(&o.tenant, "tenant", "", "tenant slug (default: tenants.default)")
		f.BoolVar(&o.public, "public", false, "a public client (SPA, native app): no secret, PKCE required")
	}
}

// input turns the flags the user gave into a core.ClientInput: for update,
// only those.
func (o *clientFlags) input(cmd *cobra.Command) core.ClientInput {
	f := cmd.Flags()
	in := core.ClientInput{Tenant: o.tenant}
	if f.Changed("name") {
		in.Name = &o.name
	}
	if f.Changed("redirect-uri") {
		in.RedirectURIs = o.redirects
		in.Set("redirect_uris")
	}
	if f.Changed("post-logout-redirect-uri") {
		in.PostLogoutRedirectURIs = o.postLogout
		in.Set("post_logout_redirect_uris")
	}
	if f.Changed("first-party") {
		in.FirstParty = &o.firstParty
	}
	if f.Changed("public") {
		in.Public = &o.public
	}
	if f.Changed("scope") {
		in.Scopes = o.scopes
		in.Set("scopes")
	}
	if f.Changed("id-token-alg") {
		in.IDTokenAlg = &o.idTokenAlg
	}
	if f.Changed("cors-origin") {
		in.CORSOrigins = o.cors
		in.Set("cors_origins")
	}
	if f.Changed("no-refresh") {
		in.GrantTypes = []string{core.GrantAuthorizationCode}
		if !o.noRefresh {
			in.GrantTypes = append(in.GrantTypes, core.GrantRefreshToken)
		}
		in.Set("grant_types")
	}
	return in
}

func newClientsCmd(g *globals) *cobra.Command {
	cmd := group("clients", "Register and manage OAuth 2.0 / OpenID Connect clients")
	cmd.AddCommand(newClientsCreateCmd(g), newClientsListCmd(g), newClientsShowCmd(g), newClientsUpdateCmd(g),
		newClientsSecretCmd(g), newClientsStatusCmd(g, "disable", core.ClientDisabled), newClientsStatusCmd(g, "enable", core.ClientActive),
		newClientsDeleteCmd(g))
	return cmd
}

// printClient shows a client; a secret goes in a box with a warning, once.
func printClient(p *printer, c core.ClientView, title string) {
	kind := "confidential"
	if c.Public {
		kind = "public (PKCE)"
	}
	kv := [][2]string{
		{"Client ID", c.ClientID}, {"Name", c.Name}, {"Tenant", c.Tenant}, {"Kind", kind},
		{"First party", fmt.Sprint(c.FirstParty)}, {"Status", c.Status},
		{"Redirect URIs", strings.Join(c.RedirectURIs, " ")},
		{"Post-logout URIs", orDash(strings.Join(c.PostLogoutRedirectURIs, " "))},
		{"Scopes", strings.Join(c.Scopes, " ")}, {"Grants", strings.Join(c.GrantTypes, " ")},
		{"ID token alg", c.IDTokenAlg}, {"CORS origins", orDash(strings.Join(c.CORSOrigins, " "))},
	}
	warning := ""
	if c.ClientSecret != "" {
		kv = append(kv, [2]string{"Client secret", c.ClientSecret})
		warning = "Shown once: store the secret now. `idp clients rotate-secret` makes a new one."
	}
	p.box(title, kv, warning)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newClientsCreateCmd(g *globals) *cobra.Command {
	var o clientFlags
	cmd := &cobra.Command{
		Use:   "create --name N [--tenant T] --redirect-uri U... [--post-logout-redirect-uri U]... [--public] [--first-party] [--scope S]... [--id-token-alg EdDSA|RS256] [--cors-origin O]...",
		Short: "Register a client; a confidential client's secret is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := o.input(cmd)
			return g.withApp(cmd.Context(), func(a *app) error {
				c, err := a.svcs.Clients.Create(cmd.Context(), in, cliMeta())
				if err != nil {
					return err
				}
				return g.print(c, func(p *printer) { printClient(p, c, "Client registered") })
			})
		},
	}
	o.bind(cmd, true)
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("redirect-uri")
	return cmd
}

func newClientsListCmd(g *globals) *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				clients, err := a.svcs.Clients.List(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				rows := make([][]string, 0, len(clients))
				for _, c := range clients {
					kind := "confidential"
					if c.Public {
						kind = "public"
					}
					rows = append(rows, []string{c.ClientID, c.Name, c.Tenant, kind, c.Status, strings.Join(c.RedirectURIs, " ")})
				}
				return g.print(map[string]any{"clients": clients}, func(p *printer) {
					p.table([]string{"CLIENT ID", "NAME", "TENANT", "KIND", "STATUS", "REDIRECT URIS"}, rows)
				})
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's clients")
	return cmd
}

func newClientsShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show a client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				c, err := a.svcs.Clients.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return g.print(c, func(p *printer) { printClient(p, c, "Client") })
			})
		},
	}
}

func newClientsUpdateCmd(g *globals) *cobra.Command {
	var o clientFlags
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID [flags as create]",
		Short: "Change what the flags given say; a list flag replaces the whole list",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := o.input(cmd)
			return g.withApp(cmd.Context(), func(a *app) error {
				c, err := a.svcs.Clients.Update(cmd.Context(), args[0], in, cliMeta())
				if err != nil {
					return err
				}
				return g.print(c, func(p *printer) { printClient(p, c, "Client updated") })
			})
		},
	}
	o.bind(cmd, false)
	return cmd
}

func newClientsSecretCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a confidential client a new secret, printed once; the old one stops working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				c, err := a.svcs.Clients.RotateSecret(cmd.Context(), args[0], cliMeta())
				if err != nil {
					return err
				}
				return g.print(c, func(p *printer) { printClient(p, c, "Client secret rotated") })
			})
		},
	}
}

func newClientsStatusCmd(g *globals, use, status string) *cobra.Command {
	short := "Disable a client: no sign-ins, code exchanges or refreshes; its sessions are revoked"
	if status == core.ClientActive {
		short = "Enable a disabled client"
	}
	return &cobra.Command{
		Use:   use + " CLIENT_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				c, err := a.svcs.Clients.SetStatus(cmd.Context(), args[0], status, cliMeta())
				if err != nil {
					return err
				}
				return g.print(c, func(p *printer) { p.success(fmt.Sprintf("client %s is %s", c.ClientID, c.Status)) })
			})
		},
	}
}

func newClientsDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client with its codes and consents; its sessions are revoked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				if err := a.svcs.Clients.Delete(cmd.Context(), args[0], cliMeta()); err != nil {
					return err
				}
				return g.print(map[string]string{"deleted": args[0]}, func(p *printer) {
					p.success("deleted client " + args[0])
				})
			})
		},
	}
}
