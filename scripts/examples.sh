#!/usr/bin/env bash
# make test-examples: installs what the examples need when it is missing
# (Debian's FastAPI stack and chromium, node and npm, each example's npm
# packages from its lockfile), starts PostgreSQL and Redis as `make test`
# does, and runs each example's test against a real `idp serve`
# (examples/harness).
#
#   scripts/examples.sh go-service fastapi node-service nextjs
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -eq 0 ]]; then
	echo "usage: $0 EXAMPLE..." >&2
	exit 2
fi

apt_install() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "missing: $* (install with 'sudo apt-get install -y $*')" >&2
		return 1
	fi
	echo "installing $* with apt-get" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

for ex in "$@"; do
	[[ -d examples/$ex ]] || { echo "no example examples/$ex" >&2; exit 2; }
	case $ex in
	fastapi)
		# Debian's interpreter and packages: PyPI is not used.
		if ! /usr/bin/python3 -c 'import fastapi, uvicorn, jwt, httpx, cryptography' 2>/dev/null; then
			apt_install python3 python3-fastapi python3-uvicorn python3-jwt python3-httpx python3-cryptography
		fi
		;;
	nextjs)
		# Its browser test drives Debian's Chromium, never a downloaded one.
		[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || apt_install chromium
		;;
	esac
	if [[ -f examples/$ex/package-lock.json ]]; then
		command -v npm >/dev/null 2>&1 || apt_install nodejs npm
		# jose 6 needs Node 20 (WebCrypto Ed25519), Next.js 16 20.9;
		# Debian 12's own nodejs is 18.
		if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)'; then
			echo "examples/$ex needs Node.js 20.9 or later, found $(node --version)" >&2
			exit 1
		fi
		# npm ci only when node_modules doesn't hold this lockfile's packages.
		sum=$(sha256sum "examples/$ex/package-lock.json" | cut -d' ' -f1)
		if [[ $(cat "examples/$ex/node_modules/.idp-lock-sha256" 2>/dev/null) != "$sum" ]]; then
			(cd "examples/$ex" && npm ci --no-audit --no-fund --loglevel=error)
			echo "$sum" >"examples/$ex/node_modules/.idp-lock-sha256"
		fi
	fi
done

dir=$(mktemp -d /tmp/idp-examples.XXXXXX)
trap 'scripts/services.sh stop "$dir"' EXIT
scripts/services.sh start "$dir" >/dev/null
set -a
. "$dir/env"
set +a
export IDP_TEST_DATABASE_URL="$IDP_DATABASE_URL" IDP_BIN="$PWD/bin/idp"
pkgs=()
for ex in "$@"; do pkgs+=("./examples/$ex"); done
# -v for the rotation figures each check logs; the RUN lines are noise.
go test -tags examples -count=1 -v "${pkgs[@]}" | grep -v '^=== '
