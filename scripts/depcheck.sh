#!/usr/bin/env bash
# The dependency rule of docs/ARCHITECTURE.md, as an allow-list: every
# package of the module must have an entry below naming what it may import
# (besides the standard library), and a package without one fails the
# check, so a new package can't slip past it. Where a rule is about what a
# package must never reach, even through others (core and net/http, verify
# and idp's internals), a transitive check says so too.
set -euo pipefail
mod=$(go list -m)
fail=0

broken() { # package, imports, why
	echo "dependency rule broken: ./$1 imports $2 ($3)" >&2
	fail=1
}

# The allow-list: package (relative to the module) and an extended regular
# expression every non-standard direct import must match. "M/" stands for
# the module path.
declare -A allowed why
rule() { allowed[$1]=$2; why[$1]=$3; }

uuid='github.com/google/uuid'
jwt='github.com/golang-jwt/jwt/v5'
rule cmd/idp                  'M/internal/cli' 'main only calls cli.Run'
rule internal/cli             '.*' 'cli wires everything: cobra, viper, lipgloss and the adapters live here only'
rule internal/core            "$uuid|M/internal/core/(password|token)|golang.org/x/net/idna|golang.org/x/text/unicode/norm" \
	'core imports the standard library, core/password, core/token and small pure helpers'
rule internal/core/password   'golang.org/x/crypto/bcrypt' 'core/password is a leaf'
rule internal/core/token      "$jwt" 'core/token is a leaf'
rule internal/core/postgres   "$uuid|M/internal/core|M/migrations|github.com/jmoiron/sqlx|github.com/lib/pq|github.com/pressly/goose/v3" \
	'core/postgres imports core and its driver only'
rule internal/core/redis      'M/internal/core|github.com/redis/go-redis/v9(/.*)?' 'core/redis imports core and its driver only'
rule internal/core/coretest   'M/internal/core(/password|/token|/postgres|/redis)?|M/internal/testenv|github.com/jmoiron/sqlx' \
	'the test fixture builds core on the real adapters'
rule internal/pgscale         "$uuid|M/internal/core(/postgres)?|github.com/jmoiron/sqlx|github.com/lib/pq" \
	'the million-user generator writes through the store and COPY'
rule internal/httperr         'M/internal/core' 'the one code-to-status map knows core codes only'
rule internal/server          "M/internal/core|M/internal/core/token|M/internal/httperr|$uuid" \
	'server imports core, never an adapter, cli or the pages (they are mounted as a Face)'
rule internal/web             "M/internal/core|M/internal/httperr|M/web|$uuid" \
	'the pages import core and their templates, never an adapter, cli or server'
rule internal/mail            'M/internal/core|github.com/wneessen/go-mail' 'a mail driver implements core.Mailer'
rule internal/metrics         'M/internal/core|github.com/prometheus/client_golang/prometheus(/.*)?' \
	"the Prometheus exposition implements core's Observer on client_golang; it reads adapters only through the functions cli hands it"

rule internal/testenv         'github.com/lib/pq' 'test services only'
rule internal/e2e             'M/internal/testenv|github.com/prometheus/client_golang/prometheus/testutil/promlint' \
	'the e2e tests run the built binary (and lint what its /metrics serves)'
rule migrations               '^$' 'embedded SQL'
rule web                      '^$' 'embedded templates and static files'
rule verify                   "$jwt|M/internal/core/token" 'verify imports the standard library, core/token and golang-jwt only'
rule verify/verifytest        "$jwt|M/internal/core/token|M/verify" 'verifytest imports verify, core/token and golang-jwt only'
rule examples/go-service      "$jwt|M/internal/core/token|M/verify" 'the Go example uses verify as a downstream service would'
rule examples/go-oidc-app     'github.com/coreos/go-oidc/v3/oidc|golang.org/x/oauth2' \
	'the OpenID Connect example is a relying party on go-oidc and x/oauth2 only, as an app outside idp would be'
rule examples/harness         "$jwt|M/internal/core/token|M/internal/testenv|github.com/lib/pq|github.com/santhosh-tekuri/jsonschema/v6|golang.org/x/text/.*" \
	"the examples' test harness drives the idp binary; it links none of idp's services"
rule examples/fastapi         '^$' 'the FastAPI example is Python; its Go test only drives it'
rule examples/node-service    '^$' 'the Node example is JavaScript; its Go test only drives it'
rule examples/nextjs          '^$' 'the Next.js example is TypeScript; its Go test only drives it'
rule bench                    '.*' 'the benchmark drives the binary and baselines through the store'

for pkg in $(go list -tags examples -f '{{.ImportPath}}' ./...); do
	rel=${pkg#"$mod"/}
	[[ $pkg == "$mod" ]] && rel=.
	pattern=${allowed[$rel]-}
	if [[ -z ${allowed[$rel]+set} ]]; then
		broken "$rel" "(anything)" "it has no entry in scripts/depcheck.sh: add one"
		continue
	fi
	re="^(${pattern//M\//$mod/})$"
	bad=$(go list -tags examples -f '{{range .Imports}}{{.}}{{"\n"}}{{end}}' "$pkg" | grep '\.' | grep -vE "$re" || true)
	[[ -n $bad ]] && broken "$rel" "$(echo $bad)" "${why[$rel]}"
done

# Transitive rules.
reach() { # package, forbidden-pattern, why
	local pkg=$1 pattern=$2 self bad
	self=$(go list "./$pkg")
	bad=$(go list -deps "./$pkg" | grep -vxF "$self" | grep -E "$pattern" || true)
	[[ -n $bad ]] && broken "$pkg" "$(echo $bad)" "$3"
	return 0
}
external='github.com/jmoiron/sqlx|github.com/lib/pq|github.com/redis/go-redis|github.com/spf13/|github.com/charmbracelet/|github.com/prometheus/|^net/http$'
reach internal/core "$external|^$mod/internal/(server|web|cli|mail)$|^$mod/internal/core/(postgres|redis)$" \
	"core may import only the standard library, core/password, core/token and small pure helpers"
reach internal/server "github.com/spf13/|github.com/charmbracelet/|^$mod/internal/(cli|web|mail)$|^$mod/internal/core/(postgres|redis)$" \
	"server imports core, never an adapter or cli"
reach internal/web "github.com/spf13/|github.com/charmbracelet/|github.com/jmoiron/sqlx|github.com/lib/pq|github.com/redis/go-redis|^$mod/internal/(cli|server|mail)$|^$mod/internal/core/(postgres|redis)$" \
	"the pages import core, never an adapter, cli or server"
reach internal/metrics "github.com/jmoiron/sqlx|github.com/lib/pq|github.com/redis/go-redis|github.com/spf13/|^$mod/internal/(server|web|cli|mail)$|^$mod/internal/core/(postgres|redis)$" \
	"metrics imports core and client_golang, never an adapter, server or cli"
reach internal/server "github.com/prometheus/" "server tells a RequestObserver; the Prometheus side lives in internal/metrics"
reach verify "^$mod/internal/(core|core/(postgres|redis|password)|server|web|cli)$|github.com/spf13/|sqlx|lib/pq|go-redis|charmbracelet" \
	"verify is imported by downstream services: only core/token of ours"
exit $fail
