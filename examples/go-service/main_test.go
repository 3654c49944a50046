//go:build examples

package main

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/idp-dev/idp/examples/harness"
)

func TestGoService(t *testing.T) {
	idp := harness.Start(t)
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	env := map[string]string{"IDP_ISSUER": idp.URL, "IDP_AUDIENCE": harness.Audience, "ADDR": addr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	base := "http://" + addr
	harness.WaitForService(t, base)
	harness.Check(t, idp, base)
}
