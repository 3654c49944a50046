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
		Short: "List signing keys with their algorithm, state and dates",
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
						rows = append(rows, []string{k.KID, k.Alg, string(k.State), tsAt(k.CreatedAt),
							ts(k.ActivatedAt), ts(k.RetiredAt), ts(k.ExpiresAt), published})
					}
					p.table([]string{"KID", "ALG", "STATE", "CREATED", "ACTIVATED", "RETIRED", "EXPIRES", "PUBLISHED"}, rows)
				})
			})
		},
	}

	var opts core.RotateOptions
	rotate := &cobra.Command{
		Use:   "rotate [--emergency] [--force]",
		Short: "For each algorithm, promote the next key to active, make a new next key and retire the old active key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				res, err := a.svcs.Keys.Rotate(cmd.Context(), opts, cliMeta())
				if err != nil {
					return err
				}
				warning := "The retired keys stay published until the tokens they signed have expired."
				if opts.Emergency {
					warning = "Emergency: the retired keys are unpublished now; every token they signed is rejected."
				}
				return g.print(res, func(p *printer) {
					var rows [][2]string
					for _, r := range res.Keys {
						rows = append(rows, [2]string{r.Alg + " active", r.Active},
							[2]string{r.Alg + " next", r.Next}, [2]string{r.Alg + " retired", r.Retired})
					}
					p.box("Signing keys rotated", rows, warning)
				})
			})
		},
	}
	rotate.Flags().BoolVar(&opts.Emergency, "emergency", false, "unpublish the retired key at once (after a key compromise)")
	rotate.Flags().BoolVar(&opts.Force, "force", false, "activate the next key even if verifiers may not have fetched it yet")

	cmd.AddCommand(list, rotate)
	return cmd
}

// sortKeys orders keys as an operator reads them: by algorithm (EdDSA, the
// default, first), and within one the signing key first, then the one
// coming next, then retired keys most recently retired first. The store
// orders by creation time, which ties for the two keys made together.
func sortKeys(keys []core.KeyInfo) {
	algRank := map[string]int{core.AlgEdDSA: 0, core.AlgRS256: 1}
	rank := map[core.KeyState]int{core.KeyActive: 0, core.KeyNext: 1, core.KeyRetired: 2}
	sort.SliceStable(keys, func(i, j int) bool {
		if algRank[keys[i].Alg] != algRank[keys[j].Alg] {
			return algRank[keys[i].Alg] < algRank[keys[j].Alg]
		}
		if rank[keys[i].State] != rank[keys[j].State] {
			return rank[keys[i].State] < rank[keys[j].State]
		}
		if ri, rj := keys[i].RetiredAt, keys[j].RetiredAt; ri != nil && rj != nil && !ri.Equal(*rj) {
			return ri.After(*rj)
		}
		return keys[i].CreatedAt.After(keys[j].CreatedAt)
	})
}
