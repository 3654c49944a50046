#!/usr/bin/env bash
# Fails when a package imports what the dependency rule keeps out of it.
set -euo pipefail
mod=$(go list -m)
fail=0

check() { # package, forbidden-pattern, explanation
	local pkg=$1 pattern=$2 why=$3 bad
	self=$(go list "$pkg")
	bad=$(go list -deps "$pkg" | grep -vxF "$self" | grep -E "$pattern" || true)
	if [[ -n $bad ]]; then
		echo "dependency rule broken: $pkg imports $(echo $bad) ($why)" >&2
		fail=1
	fi
}

# allow: package, allowed-pattern, explanation. Strict: every non-standard
# package it depends on (transitively) must match the pattern.
allow() {
	local pkg=$1 pattern=$2 why=$3 self bad
	self=$(go list "$pkg")
	bad=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "$pkg" | grep -vxF "$self" | grep -vE "$pattern" || true)
	if [[ -n $bad ]]; then
		echo "dependency rule broken: $pkg imports $(echo $bad) ($why)" >&2
		fail=1
	fi
}

external='github.com/jmoiron/sqlx|github.com/lib/pq|github.com/redis/go-redis|github.com/spf13/|github.com/charmbracelet/|^net/http$'
check ./internal/core "$external|^$mod/internal/(server|cli|mail)$|^$mod/internal/core/(postgres|redis)$" \
	"core may import only the standard library, core/password, core/token and small pure helpers"
check ./internal/core/password "^$mod/" "core/password is a leaf"
check ./internal/core/token "^$mod/" "core/token is a leaf"
check ./internal/core/postgres "github.com/redis/go-redis|^$mod/internal/core/redis$|^$mod/internal/(server|cli)$" \
	"core/postgres imports core and its driver only"
check ./internal/core/redis "github.com/jmoiron/sqlx|github.com/lib/pq|^$mod/internal/core/postgres$|^$mod/internal/(server|cli)$" \
	"core/redis imports core and its driver only"
check ./internal/server "github.com/spf13/|github.com/charmbracelet/|^$mod/internal/cli$|^$mod/internal/core/(postgres|redis)$|^$mod/internal/mail$" \
	"server imports core, never an adapter or cli"
# What downstream services import: ours is only core/token.
jwt='^github.com/golang-jwt/jwt/v5$'
allow ./verify "$jwt|^$mod/internal/core/token$" \
	"verify imports the standard library, core/token and golang-jwt only"
allow ./verify/verifytest "$jwt|^$mod/internal/core/token$|^$mod/verify$" \
	"verifytest imports verify, core/token and golang-jwt only"
allow ./examples/go-service "$jwt|^$mod/internal/core/token$|^$mod/verify$" \
	"the Go example uses verify as a downstream service would"
allow ./examples/harness "$jwt|^$mod/internal/core/token$|^$mod/internal/testenv$|^github.com/lib/pq(/|$)|^github.com/santhosh-tekuri/jsonschema/v6$|^golang.org/x/text/" \
	"the examples' test harness drives the idp binary; it links none of idp's services"
exit $fail
