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
exit $fail
