#!/usr/bin/env bash
# Starts the local services m365sync needs (Redis and a MongoDB-wire server) unless they already answer.
# Idempotent: what already runs is used as it is. Prints what it used, and writes it to
# .data/services.env for the commands that follow (test, demo, bench).
#
#   REDIS_URL    (default redis://127.0.0.1:6379)   used if it answers; else the machine's redis-server
#   MONGODB_URI  (default mongodb://127.0.0.1:27017) used if it answers; else mongod on PATH; else FerretDB
#
# FerretDB v1.24.2 (SQLite handler, loopback only, telemetry off) is built once from the Go module proxy.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data="$root/.data"
cache="${M365SYNC_CACHE:-$HOME/.cache/m365sync}"
mkdir -p "$data" "$cache/bin"

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:27017}"
FERRETDB_VERSION=v1.24.2

say() { echo "services: $*"; }
fail() { echo "services: ERROR: $*" >&2; exit 1; }

# host and port of a redis:// or mongodb:// URL (first host only; enough for the local check)
url_host() { local h="${1#*://}"; h="${h#*@}"; h="${h%%/*}"; h="${h%%,*}"; echo "${h%%:*}"; }
url_port() { local h="${1#*://}"; h="${h#*@}"; h="${h%%/*}"; h="${h%%,*}"; [[ "$h" == *:* ]] && echo "${h##*:}" || echo "$2"; }

redis_answers() {
  # RESP PING over bash's /dev/tcp: no client needed. A password-protected Redis answers NOAUTH,
  # which still proves it is there.
  local host port reply
  host=$(url_host "$REDIS_URL"); port=$(url_port "$REDIS_URL" 6379)
  exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || reply=""
  exec 3>&- 3<&-
  [[ "$reply" == +PONG* || "$reply" == -NOAUTH* ]]
}

mongo_answers() {
  (cd "$root" && MONGODB_URI="$MONGODB_URI" node scripts/mongo-ping.mjs >/dev/null 2>&1)
}

wait_for() { # wait_for <check-fn> <seconds>
  local i
  for ((i = 0; i < $2 * 5; i++)); do "$1" && return 0; sleep 0.2; done
  return 1
}

ensure_node_modules() {
  if [[ ! -d "$root/node_modules/mongodb" ]]; then
    say "installing npm dependencies (npm ci)"
    (cd "$root" && npm ci --no-audit --no-fund) >&2
  fi
}

start_redis() {
  if redis_answers; then say "Redis: using $REDIS_URL (already running)"; return; fi
  local host port
  host=$(url_host "$REDIS_URL"); port=$(url_port "$REDIS_URL" 6379)
  if ! command -v redis-server >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      say "installing Debian's redis-server"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2
    else
      fail "Redis does not answer at $REDIS_URL and redis-server is not installed. Install it (apt-get install redis-server) or set REDIS_URL to a running Redis."
    fi
  fi
  mkdir -p "$data/redis"
  redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
    --dir "$data/redis" --logfile "$data/redis/redis.log" --pidfile "$data/redis/redis.pid" >/dev/null
  wait_for redis_answers 10 || fail "redis-server did not answer on $host:$port; see $data/redis/redis.log"
  say "Redis: started redis-server on $host:$port (no persistence; data in $data/redis)"
}

ferretdb_binary() {
  local bin="$cache/bin/ferretdb"
  if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "version: $FERRETDB_VERSION"; then
    echo "$bin"; return
  fi
  command -v go >/dev/null || fail "no MongoDB-wire server: MONGODB_URI does not answer, no mongod on PATH, and Go is missing to build FerretDB. Install Go (or mongod), or set MONGODB_URI."
  say "building FerretDB $FERRETDB_VERSION once into $bin (a minute or two)" >&2
  # 'go install …@v1.24.2' builds a binary that panics at start-up: the module carries no
  # build/version/version.txt. So fetch the module and build it with that file written.
  local src tmp
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  if [[ -z "$src" ]]; then
    src=$(GOTOOLCHAIN=go1.24.3 go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  fi
  [[ -n "$src" ]] || fail "could not download FerretDB $FERRETDB_VERSION from the Go module proxy"
  tmp=$(mktemp -d)
  cp -r "$src/." "$tmp" && chmod -R u+w "$tmp"
  echo "$FERRETDB_VERSION" >"$tmp/build/version/version.txt"
  if ! (cd "$tmp" && go build -o "$bin" ./cmd/ferretdb) >&2; then
    say "the machine's Go could not build it; retrying with GOTOOLCHAIN=go1.24.3" >&2
    (cd "$tmp" && GOTOOLCHAIN=go1.24.3 go build -o "$bin" ./cmd/ferretdb) >&2 || fail "building FerretDB failed (see above)"
  fi
  rm -rf "$tmp"
  echo "$bin"
}

start_mongo() {
  ensure_node_modules
  if mongo_answers; then say "MongoDB: using $MONGODB_URI (already running)"; return; fi
  local host port
  host=$(url_host "$MONGODB_URI"); port=$(url_port "$MONGODB_URI" 27017)
  [[ "$host" == 127.* || "$host" == localhost ]] || fail "MongoDB does not answer at $MONGODB_URI. Start it, or unset MONGODB_URI to use a local server."
  if command -v mongod >/dev/null; then
    mkdir -p "$data/mongod"
    mongod --dbpath "$data/mongod" --bind_ip 127.0.0.1 --port "$port" --fork --logpath "$data/mongod/mongod.log" >/dev/null
    wait_for mongo_answers 30 || fail "mongod did not answer on port $port; see $data/mongod/mongod.log"
    say "MongoDB: started mongod on 127.0.0.1:$port (data in $data/mongod)"
    return
  fi
  local bin
  bin=$(ferretdb_binary)
  mkdir -p "$data/ferretdb"
  nohup "$bin" --handler=sqlite --sqlite-url="file:$data/ferretdb/" --state-dir="$data/ferretdb" \
    --listen-addr="127.0.0.1:$port" --debug-addr=127.0.0.1:0 --telemetry=disable --log-level=warn \
    >"$data/ferretdb/ferretdb.log" 2>&1 &
  echo $! >"$data/ferretdb/ferretdb.pid"
  wait_for mongo_answers 30 || fail "FerretDB did not answer on port $port; see $data/ferretdb/ferretdb.log"
  say "MongoDB: started FerretDB $FERRETDB_VERSION (SQLite, data in $data/ferretdb) on 127.0.0.1:$port"
}

start_redis
start_mongo
printf 'REDIS_URL=%s\nMONGODB_URI=%s\n' "$REDIS_URL" "$MONGODB_URI" >"$data/services.env"
