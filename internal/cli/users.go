package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newUsersCmd) }

func newUsersCmd(g *globals) *cobra.Command {
	cmd := group("users", "Seed, create, list, disable, enable and unlock users")
	cmd.AddCommand(
		newUsersSeedCmd(g),
		newUsersCreateCmd(g),
		newUsersListCmd(g),
		newUserStatusCmd(g, "disable", "Disable a user and revoke every session at once",
			func(a *app) userAction { return a.svcs.Admin.Disable }, "disabled %s in tenant %s; every session revoked"),
		newUserStatusCmd(g, "enable", "Return a disabled user to active",
			func(a *app) userAction { return a.svcs.Admin.Enable }, "enabled %s in tenant %s"),
		newUserStatusCmd(g, "unlock", "Clear a temporary lock and its failed-attempt counters",
			func(a *app) userAction { return a.svcs.Admin.Unlock }, "unlocked %s in tenant %s"),
	)
	return cmd
}

type seedOptions = core.SeedInput

func newUsersSeedCmd(g *globals) *cobra.Command {
	var o seedOptions
	cmd := &cobra.Command{
		Use:   "seed --email E [--tenant T] [--rotate [--enable]]",
		Short: "Create the tenant if missing and an admin with a one-time password, printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				res, err := a.svcs.Users.Seed(cmd.Context(), o, cliMeta())
				if err != nil {
					return err
				}
				title := "Admin seeded"
				if o.Rotate {
					title = "Admin one-time password rotated"
				}
				return g.print(res, func(p *printer) {
					p.box(title, [][2]string{
						{"User ID", res.UserID},
						{"Email", res.Email},
						{"Tenant", res.Tenant},
						{"Password", res.Password},
						{"Expires at", ts(&res.ExpiresAt)},
					}, "Shown once: store it now. It must be changed at first login.")
				})
			})
		},
	}
	cmd.Flags().StringVar(&o.Email, "email", "", "email of the admin (required)")
	cmd.Flags().StringVar(&o.Tenant, "tenant", "", "tenant slug (default: tenants.default)")
	cmd.Flags().BoolVar(&o.Rotate, "rotate", false, "give the seeded admin a new one-time password and revoke its sessions")
	cmd.Flags().BoolVar(&o.Enable, "enable", false, "with --rotate: also return a disabled seeded admin to active")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

type createOptions struct {
	email         string
	tenant        string
	roles         []string
	displayName   string
	passwordStdin bool
}

func newUsersCreateCmd(g *globals) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create --email E [--tenant T] [--role R]... [--display-name N] [--password-stdin]",
		Short: "Create a user (without a password it is pending and gets an invite mail); roles come from the tenant's catalogue",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := core.CreateInput{Tenant: o.tenant, Email: o.email, Roles: o.roles, DisplayName: o.displayName}
			if o.passwordStdin {
				pw, err := readPassword(g.stdin)
				if err != nil {
					return err
				}
				in.Password = pw
			}
			return g.withApp(cmd.Context(), func(a *app) error {
				v, err := a.svcs.Admin.CreateUser(cmd.Context(), core.Operator(o.tenant), in, cliMeta())
				if err != nil {
					return err
				}
				u := v.UserView
				return g.print(u, func(p *printer) {
					p.success(fmt.Sprintf("created %s in tenant %s (status %s, id %s)", u.Email, u.Tenant, u.Status, u.ID))
					if u.Status == core.UserPending {
						p.line("An invite with a link to set the password was mailed.")
					}
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.email, "email", "", "email of the user (required)")
	f.StringVar(&o.tenant, "tenant", "", "tenant slug (default: tenants.default)")
	f.StringArrayVar(&o.roles, "role", nil, "role to grant (repeatable)")
	f.StringVar(&o.displayName, "display-name", "", "display name")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// maxPasswordLine bounds what is read from stdin; it is well above the
// 1024-byte password limit, so an overlong password is refused by core
// rather than silently cut to an accepted length.
const maxPasswordLine = 64 << 10

// readPassword takes the first line of r without its line ending. The
// password never appears in an error.
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", usageErr("--password-stdin: nothing on stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", errors.New("--password-stdin: cannot read stdin")
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", usageErr("--password-stdin: the first line of stdin is empty")
	}
	return line, nil
}

func newUsersListCmd(g *globals) *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List users with status, roles, last login and lock state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				users, err := a.svcs.Users.List(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				return g.print(map[string]any{"users": users}, func(p *printer) {
					rows := make([][]string, 0, len(users))
					for _, u := range users {
						roles := strings.Join(u.Roles, ",")
						if roles == "" {
							roles = "-"
						}
						name := u.DisplayName
						if name == "" {
							name = "-"
						}
						rows = append(rows, []string{u.Email, name, u.Tenant, string(u.Status), roles, ts(u.LastLoginAt), ts(u.LockedUntil)})
					}
					p.table([]string{"EMAIL", "NAME", "TENANT", "STATUS", "ROLES", "LAST LOGIN", "LOCKED UNTIL"}, rows)
				})
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only users of this tenant")
	return cmd
}

// userAction is the shape shared by Admin.Disable, Enable and Unlock: the
// same methods the admin API and pages call, here as the operator.
type userAction = func(ctx context.Context, act core.Actor, ref core.UserRef, meta core.Meta) (core.AdminUser, error)

func newUserStatusCmd(g *globals, name, short string, action func(*app) userAction, done string) *cobra.Command {
	var email, tenant string
	cmd := &cobra.Command{
		Use:   name + " --email E [--tenant T]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				v, err := action(a)(cmd.Context(), core.Operator(tenant), core.ByEmail(email), cliMeta())
				if err != nil {
					return err
				}
				u := v.UserView
				return g.print(u, func(p *printer) { p.success(fmt.Sprintf(done, u.Email, u.Tenant)) })
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email of the user (required)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant slug (default: tenants.default)")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}
