// Command idp is a self-hosted identity provider: `idp serve` runs the HTTP
// API, the other commands administer it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/idp-dev/idp/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
