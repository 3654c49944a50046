// Package cli is the command line of idp: cobra commands, configuration with
// viper, and the wiring of core services to their adapters. It is the only
// package that knows all of them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idp-dev/idp/internal/core"
)

// Exit codes (CONTRACT section 2).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitRefused = 3
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// globals are the flags every command shares.
type globals struct {
	configPath string
	output     string
	getenv     func(string) string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// Run executes the idp command line and returns the process exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	fmt.Fprintln(stderr, "idp: "+oneLine(errorText(err)))
	return code
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "idp",
		Short:         "A self-hosted identity provider for human login",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "config file (default ./config/idp.yaml when it exists)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.output != "text" && g.output != "json" {
			return usageErr("--output must be text or json")
		}
		return nil
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	root.AddCommand(
		newVersionCmd(g),
		newMigrateCmd(g),
		newServeCmd(g),
	)
	for _, add := range extraCommands {
		root.AddCommand(add(g))
	}
	return root
}

// group is a command that only holds subcommands. Cobra would print help
// and exit 0 for `idp users bogus`; a typo must fail with a usage error
// instead, so scripts notice.
func group(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// extraCommands lets the admin command files register themselves.
var extraCommands []func(*globals) *cobra.Command

// exitCode maps an error to the exit code of CONTRACT section 2.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return ExitUsage
	}
	switch core.ErrorCode(err) {
	case core.EINVALID, core.EWEAKPASSWORD:
		return ExitUsage
	case core.ECONFLICT, core.ENOTFOUND, core.EFORBIDDEN, core.EDENIED:
		return ExitRefused
	}
	if strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), "accepts ") || strings.Contains(err.Error(), "required flag") {
		return ExitUsage
	}
	return ExitFailure
}

// errorText is what a person sees: core errors show their safe message.
func errorText(err error) string {
	var ce *core.Error
	if errors.As(err, &ce) {
		if ce.Code == core.EUNAVAILABLE || ce.Code == core.EINTERNAL {
			return ce.Message
		}
		return ce.Message
	}
	return err.Error()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(core.Escape(s)), " ")
}
