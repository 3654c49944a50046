#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL 15 and Redis on free loopback ports.
#
#   scripts/services.sh start DIR   start both, write DIR/env (IDP_DATABASE_URL, IDP_REDIS_URL)
#   scripts/services.sh stop DIR    stop both and remove DIR
#
# PostgreSQL refuses to run as root, so as root it runs as the postgres user.
# redis-server is installed with apt when missing.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [[ -z $cmd || -z $dir ]]; then
	echo "usage: $0 start|stop DIR" >&2
	exit 2
fi

pgbin=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# free_port picks a port below the kernel's ephemeral range, so no client
# connection can hold it as its local port (a connect test misses those, and
# the server's bind then fails), and checks that no socket uses it.
free_port() {
	local lo port
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	for _ in $(seq 1 100); do
		port=$((15000 + RANDOM % (lo - 15000)))
		if command -v ss >/dev/null 2>&1; then
			[[ -z $(ss -Htan "( sport = :$port )" 2>/dev/null) ]] && { echo "$port"; return 0; }
		elif ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

ensure_redis() {
	if command -v redis-server >/dev/null 2>&1; then
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		echo "redis-server is missing: install it with 'sudo apt-get install -y redis-server'" >&2
		return 1
	fi
	echo "installing redis-server with apt-get" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	# The package starts a system-wide instance on 6379; we don't use it.
	if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
}

start() {
	ensure_redis
	if [[ ! -x $pgbin/postgres ]]; then
		echo "PostgreSQL 15 not found in $pgbin (apt-get install -y postgresql-15, or set PG_BIN)" >&2
		return 1
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)

	# PostgreSQL's data lives where the postgres user can reach it: every
	# parent of DIR must be traversable, else we fall back to /tmp.
	local pgdata="$dir/pg"
	if [[ $(id -u) -eq 0 ]]; then
		chown postgres "$dir"
		if ! runuser -u postgres -- test -x "$dir"; then
			pgdata=$(mktemp -d /tmp/idp-pg.XXXXXX)
			chown postgres "$pgdata"
			pgdata="$pgdata/pg"
		fi
	fi
	echo "$pgdata" >"$dir/pgdata"

	local pgport redisport started=
	as_pg "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
	# Another process may take the port between the check and the bind:
	# try a few.
	for _ in 1 2 3 4 5; do
		pgport=$(free_port)
		if as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata.log" -w -t 30 start -o \
			"-p $pgport -c listen_addresses=127.0.0.1 -k $pgdata -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" >/dev/null; then
			started=1
			break
		fi
	done
	if [[ -z $started ]]; then
		echo "PostgreSQL did not start; see $pgdata.log" >&2
		return 1
	fi
	"$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -d postgres -qc "CREATE DATABASE idp" >/dev/null

	started=
	for _ in 1 2 3 4 5; do
		redisport=$(free_port)
		redis-server --port "$redisport" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
		for _ in $(seq 1 50); do
			[[ -s $dir/redis.pid ]] && redis-cli -p "$redisport" ping >/dev/null 2>&1 && { started=1; break; }
			sleep 0.1
		done
		[[ -n $started ]] && break
	done
	if [[ -z $started ]]; then
		echo "redis-server did not start; see $dir/redis.log" >&2
		return 1
	fi

	cat >"$dir/env" <<ENV
IDP_DATABASE_URL=postgres://postgres@127.0.0.1:$pgport/idp?sslmode=disable
IDP_REDIS_URL=redis://127.0.0.1:$redisport/0
ENV
	cat "$dir/env"
}

stop() {
	[[ -d $dir ]] || return 0
	if [[ -s $dir/redis.pid ]]; then
		kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
	fi
	if [[ -s $dir/pgdata ]]; then
		local pgdata
		pgdata=$(cat "$dir/pgdata")
		if [[ -d $pgdata ]]; then
			as_pg "$pgbin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
			rm -rf "$pgdata" "$pgdata.log"
			# The /tmp fallback of start lives outside DIR: remove it too.
			case $pgdata in "$dir"/*) ;; *) rm -rf "$(dirname "$pgdata")" ;; esac
		fi
	fi
	rm -rf "$dir"
}

case $cmd in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
