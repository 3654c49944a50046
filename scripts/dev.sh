#!/usr/bin/env bash
# make dev: throwaway PostgreSQL and Redis under ./var, migrations, a seeded
# admin, then `idp serve` in the foreground. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

# IDP_DEV_VAR moves everything this script writes (services, dev.env,
# mail) out of ./var, for a second instance or a test.
var=${IDP_DEV_VAR:-var}
bin=${IDP_DEV_BIN:-bin/idp}
mkdir -p "$var"
dir=$var/services
scripts/services.sh stop "$dir" 2>/dev/null || true
trap 'scripts/services.sh stop "$dir"' EXIT
scripts/services.sh start "$dir" >/dev/null
set -a
. "$dir/env"
set +a

# Development secrets, fresh for each throwaway database. Production sets
# its own (see docs/operations.md).
export IDP_SECURITY_PEPPER=${IDP_SECURITY_PEPPER:-$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)}
export IDP_KEYS_ENCRYPTION_KEY=${IDP_KEYS_ENCRYPTION_KEY:-$(head -c 32 /dev/urandom | base64 | tr -d '\n')}
export IDP_SECURITY_BCRYPT_COST=${IDP_SECURITY_BCRYPT_COST:-10}
export IDP_MAIL_FILE_PATH=${IDP_MAIL_FILE_PATH:-$var/mail.jsonl}

# Everything an admin command needs to reach this dev server, for
# `set -a; . var/dev.env; set +a` in another shell. Development only.
umask 077
cat >"$var/dev.env" <<ENV
IDP_DATABASE_URL=$IDP_DATABASE_URL
IDP_REDIS_URL=$IDP_REDIS_URL
IDP_SECURITY_PEPPER=$IDP_SECURITY_PEPPER
IDP_KEYS_ENCRYPTION_KEY=$IDP_KEYS_ENCRYPTION_KEY
IDP_SECURITY_BCRYPT_COST=$IDP_SECURITY_BCRYPT_COST
IDP_MAIL_FILE_PATH=$IDP_MAIL_FILE_PATH
ENV

"$bin" migrate up
"$bin" users seed --email "${IDP_DEV_ADMIN:-admin@example.com}"
# A role for the README's tour: the seeded admin invites a member from
# the admin pages (more roles: /admin/roles or `bin/idp roles create`).
"$bin" roles create member --tenant default --description "Signs in to the apps" >/dev/null
echo
echo "Postgres: $IDP_DATABASE_URL"
echo "Redis:    $IDP_REDIS_URL"
echo "Mail:     $IDP_MAIL_FILE_PATH"
echo "Admin commands in another shell: set -a; . $var/dev.env; set +a; bin/idp users list"
echo "Admin pages: http://${IDP_HTTP_ADDR:-127.0.0.1:8080}/admin (sign in as the seeded admin)"
echo "Serving on http://${IDP_HTTP_ADDR:-127.0.0.1:8080} (Ctrl-C to stop)"
echo "Sign in:  http://${IDP_HTTP_ADDR:-127.0.0.1:8080}/login  (the admin above, with the one-time password)"
"$bin" serve
