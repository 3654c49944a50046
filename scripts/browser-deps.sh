#!/usr/bin/env bash
# Installs what the browser suite (tests/browser, run by internal/e2e
# TestBrowser*) and the openid-client suite (tests/oidc-node, run by
# TestOpenIDClientNode) need when it is missing: Debian's chromium, Node.js
# 20 or later with npm, and each suite's npm packages from its lockfile.
# Never a downloaded browser: playwright-core drives /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "missing: $* (install with 'sudo apt-get install -y $*')" >&2
		return 1
	fi
	echo "installing $* with apt-get" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || apt_install chromium
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
# playwright-core and openid-client 6 need Node 20; Debian 12's own nodejs
# is 18.
if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
	echo "the browser and openid-client suites need Node.js 20 or later, found $(node --version)" >&2
	exit 1
fi

# npm ci only when node_modules doesn't hold this lockfile's packages.
for suite in tests/browser tests/oidc-node; do
	sum=$(sha256sum "$suite/package-lock.json" | cut -d' ' -f1)
	if [[ $(cat "$suite/node_modules/.idp-lock-sha256" 2>/dev/null) != "$sum" ]]; then
		(cd "$suite" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
		echo "$sum" >"$suite/node_modules/.idp-lock-sha256"
	fi
done
