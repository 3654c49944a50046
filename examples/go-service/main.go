// Command go-service is a downstream API that trusts idp's access tokens
// through package verify (docs/integrate.md):
//
//	GET /api/me      any valid token: {"sub","tenant_id","roles","email"}
//	GET /api/admin   role admin in the token's tenant, else 403
//
// Configuration: IDP_ISSUER (idp's issuer URL), IDP_AUDIENCE (its
// tokens.audience, default idp), ADDR (listen address, default
// 127.0.0.1:8081).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/idp-dev/idp/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends. It prints "listening on ADDR" once ready.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	issuer, audience, addr := getenv("IDP_ISSUER"), getenv("IDP_AUDIENCE"), getenv("ADDR")
	if issuer == "" {
		return errors.New("IDP_ISSUER is required (idp's issuer URL)")
	}
	if audience == "" {
		audience = "idp"
	}
	if addr == "" {
		addr = "127.0.0.1:8081"
	}

	v, err := verify.New(ctx, issuer, audience)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/me", v.Middleware(http.HandlerFunc(me)))
	mux.Handle("GET /api/admin", v.Middleware(verify.RequireRole("admin", http.HandlerFunc(admin))))

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(stdout, "listening on %s\n", l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func me(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, map[string]any{"sub": c.Subject, "tenant_id": c.TenantID, "roles": c.Roles, "email": c.Email})
}

func admin(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
	writeJSON(w, map[string]any{"sub": c.Subject, "tenant_id": c.TenantID, "admin": true})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
