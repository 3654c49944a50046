package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

func init() { extraCommands = append(extraCommands, newMaintenanceCmd) }

func newMaintenanceCmd(g *globals) *cobra.Command {
	cmd := group("maintenance", "Remove expired data")
	var dryRun bool
	prune := &cobra.Command{
		Use:   "prune [--dry-run]",
		Short: "Delete ended sessions, expired reset tokens and audit months past their retention now",
		Long: "Deletes, in small batches, sessions that ended more than retention.sessions ago with their " +
			"refresh tokens, expired reset and invite tokens, and whole months of the audit log older than " +
			"retention.audit; creates the audit partitions of the coming months. `idp serve` does the same " +
			"every maintenance.interval. --dry-run counts what would go and changes nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withApp(cmd.Context(), func(a *app) error {
				rep, err := a.svcs.Maintenance.Prune(cmd.Context(), core.PruneOptions{DryRun: dryRun})
				if err != nil {
					return err
				}
				if rep.Skipped {
					return &exitError{code: ExitRefused, err: errMaintenanceBusy}
				}
				return g.print(rep, func(p *printer) { printPrune(p, rep) })
			})
		},
	}
	prune.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be removed, change nothing")
	cmd.AddCommand(prune)
	return cmd
}

var errMaintenanceBusy = core.Errorf(core.ECONFLICT, "another idp process is running maintenance right now; try again in a minute")

func printPrune(p *printer, rep core.PruneReport) {
	verb := "deleted"
	if rep.DryRun {
		verb = "would delete"
	}
	rows := make([][]string, 0, len(rep.Deleted)+len(rep.PartitionsDropped)+len(rep.PartitionsCreated))
	for _, c := range rep.Deleted {
		rows = append(rows, []string{c.Table, verb, strconv.FormatInt(c.Rows, 10)})
	}
	for _, part := range rep.PartitionsDropped {
		rows = append(rows, []string{"audit partition " + part.Name, verb + " (rows)", strconv.FormatInt(part.Rows, 10)})
	}
	create := "created"
	if rep.DryRun {
		create = "would create"
	}
	for _, part := range rep.PartitionsCreated {
		rows = append(rows, []string{"audit partition " + part.Name, create, "-"})
	}
	p.table([]string{"WHAT", "ACTION", "ROWS"}, rows)
	took := rep.FinishedAt.Sub(rep.StartedAt).Round(time.Millisecond)
	if rep.DryRun {
		p.line("dry run: nothing was changed (" + took.String() + ")")
		return
	}
	p.success("maintenance done in " + took.String())
}
