package cli

import (
	"sort"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newKeysCmd) }

func newKeysCmd(g *globals) *cobra.Command {
	cmd := group("keys", "List and rotate signing keys")

	list := &cobra.Command{
		Use:   "list",
		Short: "List signing keys with their state and dates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				keys, err := a.svcs.Keys.List(cmd.Context())
				if err != nil {
					return err
				}
				sortKeys(keys)
				return g.print(map[string]any{"keys": keys}, func(p *printer) {
					rows := make([][]string, 0, len(keys))
					for _, k := range keys {
						published := "no"
						if k.Published {
							published = "yes"
						}
						rows = append(rows, []string{k.KID, string(k.State), tsAt(k.CreatedAt),
							ts(k.ActivatedAt), ts(k.RetiredAt), ts(k.ExpiresAt), published})
					}
					p.table([]string{"KID", "STATE", "CREATED", "ACTIVATED", "RETIRED", "EXPIRES", "PUBLISHED"}, rows)
				})
			})
		},
	}

	var opts core.RotateOptions
	rotate := &cobra.Command{
		Use:   "rotate [--emergency] [--force]",
		Short: "Promote the next key to active, make a new next key and retire the old active key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				res, err := a.svcs.Keys.Rotate(cmd.Context(), opts, cliMeta())
				if err != nil {
					return err
				}
				warning := "The retired key stays published until the tokens it signed have expired."
				if opts.Emergency {
					warning = "Emergency: the retired key is unpublished now; every token it signed is rejected."
				}
				return g.print(res, func(p *printer) {
					p.box("Signing keys rotated", [][2]string{
						{"Active", res.Active},
						{"Next", res.Next},
						{"Retired", res.Retired},
					}, warning)
				})
			})
		},
	}
	rotate.Flags().BoolVar(&opts.Emergency, "emergency", false, "unpublish the retired key at once (after a key compromise)")
	rotate.Flags().BoolVar(&opts.Force, "force", false, "activate the next key even if verifiers may not have fetched it yet")

	cmd.AddCommand(list, rotate)
	return cmd
}

// sortKeys orders keys as an operator reads them: the signing key first,
// then the one coming next, then retired keys newest first. The store
// orders by creation time, which ties for the two keys made together.
func sortKeys(keys []core.KeyInfo) {
	rank := map[core.KeyState]int{core.KeyActive: 0, core.KeyNext: 1, core.KeyRetired: 2}
	sort.SliceStable(keys, func(i, j int) bool {
		if rank[keys[i].State] != rank[keys[j].State] {
			return rank[keys[i].State] < rank[keys[j].State]
		}
		return keys[i].CreatedAt.After(keys[j].CreatedAt)
	})
}
