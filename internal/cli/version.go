package cli

import (
	"runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of idp",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.print(map[string]string{"version": Version, "go": runtime.Version()},
				func(p *printer) { p.line("idp " + Version + " (" + runtime.Version() + ")") })
		},
	}
}
