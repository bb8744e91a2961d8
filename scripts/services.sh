#!/usr/bin/env bash
# Starts the local services m365sync needs (Redis and a MongoDB-wire server) unless they already answer.
# Idempotent: what already runs is used as it is. Prints what it used, and writes it to
# .data/services.env for the commands that follow (test, demo, bench).
#
#   REDIS_URL    (default redis://127.0.0.1:6379)   used if it answers; else the machine's redis-server
#   MONGODB_URI  (default mongodb://127.0.0.1:27017) used if it answers; else mongod on PATH; else FerretDB
#   M365SYNC_POSTGRESQL_URL (default postgres://postgres@127.0.0.1:5432/m365sync): FerretDB's backend when
#                that server answers (the database is created if missing); else FerretDB runs on SQLite
#   M365SYNC_FERRETDB_BACKEND  auto (default) | postgresql | sqlite: force one backend
#   --both-backends   also a second FerretDB on the other backend (127.0.0.1:$M365SYNC_ALT_MONGODB_PORT,
#                default 27018) for the store's own tests: MONGODB_URI_ALT in .data/services.env
#   --bench      also the benchmark's FerretDB on PostgreSQL (127.0.0.1:$M365SYNC_BENCH_MONGODB_PORT,
#                default 27019; database <main>_bench; see start_bench): MONGODB_URI_BENCH
#   --redis-cluster  also a Redis Cluster of this machine's redis-server (three masters with a replica
#                each, loopback ports $M365SYNC_REDIS_CLUSTER_PORTS, default 30001-30006; data in
#                .data/redis-cluster; scripts/redis-cluster.sh): REDIS_CLUSTER_NODES. Stop it with
#                `scripts/redis-cluster.sh stop .data/redis-cluster`.
#
# FerretDB v1.24.2 (loopback only, telemetry off) is built once from the Go module proxy.
set -euo pipefail
both_backends=0
bench=0
redis_cluster=0
for arg in "$@"; do
  case "$arg" in
    --both-backends) both_backends=1 ;;
    --bench) bench=1 ;;
    --redis-cluster) redis_cluster=1 ;;
    *) echo "services: unknown option $arg" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data="$root/.data"
cache="${M365SYNC_CACHE:-$HOME/.cache/m365sync}"
mkdir -p "$data" "$cache/bin"

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:27017}"
FERRETDB_VERSION=v1.24.2
PG_URL="${M365SYNC_POSTGRESQL_URL:-postgres://postgres@127.0.0.1:5432/m365sync}"
FERRETDB_BACKEND="${M365SYNC_FERRETDB_BACKEND:-auto}"
ALT_PORT="${M365SYNC_ALT_MONGODB_PORT:-27018}"
BENCH_PORT="${M365SYNC_BENCH_MONGODB_PORT:-27019}"
MONGODB_BACKEND=unknown

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
  # (The braces matter: `exec … 2>/dev/null` alone would silence the whole script's stderr.)
  { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
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
  # (Not `… | grep -q`: with pipefail, grep's early exit fails the pipeline and forces a rebuild.)
  if [[ -x "$bin" && "$("$bin" --version 2>/dev/null)" == *"version: $FERRETDB_VERSION"* ]]; then
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
  if mongo_answers; then
    MONGODB_BACKEND=$(ferretdb_backend_on "$MONGODB_URI")
    say "MongoDB: using $MONGODB_URI (already running; FerretDB backend: $MONGODB_BACKEND)"
    return
  fi
  local host port
  host=$(url_host "$MONGODB_URI"); port=$(url_port "$MONGODB_URI" 27017)
  [[ "$host" == 127.* || "$host" == localhost ]] || fail "MongoDB does not answer at $MONGODB_URI. Start it, or unset MONGODB_URI to use a local server."
  if command -v mongod >/dev/null; then
    mkdir -p "$data/mongod"
    mongod --dbpath "$data/mongod" --bind_ip 127.0.0.1 --port "$port" --fork --logpath "$data/mongod/mongod.log" >/dev/null
    wait_for mongo_answers 30 || fail "mongod did not answer on port $port; see $data/mongod/mongod.log"
    say "MongoDB: started mongod on 127.0.0.1:$port (data in $data/mongod)"
    MONGODB_BACKEND=mongodb
    return
  fi
  MONGODB_BACKEND=$(start_ferretdb "$port" "$FERRETDB_BACKEND" "$data/ferretdb" "$PG_URL")
}

# The database name of a postgres:// URL, and the URL of the server's maintenance database.
pg_db() { local p="${1#*://}"; p="${p#*/}"; echo "${p%%\?*}"; }
pg_admin_url() { local u="${1%%\?*}"; echo "${u%/*}/postgres"; }

pg_answers() { # pg_answers <url>: the server answers and the database exists (created if missing)
  local url="$1" db
  command -v psql >/dev/null || return 1
  psql "$(pg_admin_url "$url")" -Atqc 'select 1' >/dev/null 2>&1 || return 1
  db=$(pg_db "$url")
  [[ "$db" =~ ^[A-Za-z0-9_]+$ ]] || fail "M365SYNC_POSTGRESQL_URL must end in a plain database name (letters, digits, _): $url"
  if [[ -z "$(psql "$(pg_admin_url "$url")" -Atqc "select 1 from pg_database where datname = '$db'")" ]]; then
    psql "$(pg_admin_url "$url")" -qc "create database \"$db\"" >/dev/null || return 1
    say "PostgreSQL: created database $db" >&2
  fi
}

# The backend (postgresql / sqlite) of the FerretDB answering on a local port, from its command line.
ferretdb_backend_on() {
  local pid
  pid=$(cd "$root" && MONGODB_URI="$1" node -e '
    const { MongoClient } = require("mongodb");
    const c = new MongoClient(process.env.MONGODB_URI, { serverSelectionTimeoutMS: 2000 });
    c.db("admin").command({ serverStatus: 1 })
      .then((s) => console.log(s.process === "ferretdb" ? s.pid : ""), () => console.log(""))
      .finally(() => c.close());' 2>/dev/null)
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || { echo unknown; return; }
  tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^--handler=//p' | head -1
}

# start_ferretdb <port> <auto|postgresql|sqlite> <data dir> <postgres url>: prints the backend used.
start_ferretdb() {
  local port="$1" backend="$2" dir="$3" url="$4" bin
  if [[ "$backend" == auto ]]; then
    if pg_answers "$url"; then backend=postgresql; else backend=sqlite; fi
  elif [[ "$backend" == postgresql ]]; then
    pg_answers "$url" || fail "M365SYNC_FERRETDB_BACKEND=postgresql but PostgreSQL does not answer at $url (psql is needed to create the database)"
  fi
  bin=$(ferretdb_binary)
  mkdir -p "$dir"
  local args=(--handler=sqlite --sqlite-url="file:$dir/")
  [[ "$backend" == postgresql ]] && args=(--handler=postgresql --postgresql-url="$url")
  nohup "$bin" "${args[@]}" --state-dir="$dir" \
    --listen-addr="127.0.0.1:$port" --debug-addr=127.0.0.1:0 --telemetry=disable --log-level=warn \
    >"$dir/ferretdb.log" 2>&1 &
  echo $! >"$dir/ferretdb.pid"
  local uri="mongodb://127.0.0.1:$port"
  wait_for_uri "$uri" 30 || fail "FerretDB did not answer on port $port; see $dir/ferretdb.log"
  if [[ "$backend" == postgresql ]]; then
    say "MongoDB: started FerretDB $FERRETDB_VERSION (PostgreSQL backend, database $(pg_db "$url")) on 127.0.0.1:$port" >&2
  else
    say "MongoDB: started FerretDB $FERRETDB_VERSION (SQLite, data in $dir) on 127.0.0.1:$port" >&2
  fi
  echo "$backend"
}

uri_answers() { (cd "$root" && MONGODB_URI="$1" node scripts/mongo-ping.mjs >/dev/null 2>&1); }
wait_for_uri() { # wait_for_uri <uri> <seconds>
  local i
  for ((i = 0; i < $2 * 5; i++)); do uri_answers "$1" && return 0; sleep 0.2; done
  return 1
}

# The second FerretDB, on the backend the first one does not use, for the store's own tests.
start_alt() {
  local want uri="mongodb://127.0.0.1:$ALT_PORT" have
  case "$MONGODB_BACKEND" in
    postgresql) want=sqlite ;;
    sqlite) pg_answers "${PG_URL}_alt" && want=postgresql || { say "second backend: none (PostgreSQL does not answer at $PG_URL); the store's tests run on SQLite only"; return; } ;;
    *) say "second backend: none (the server at $MONGODB_URI is not a local FerretDB)"; return ;;
  esac
  if uri_answers "$uri"; then
    have=$(ferretdb_backend_on "$uri")
    [[ "$have" == "$want" ]] || fail "127.0.0.1:$ALT_PORT answers but is not a FerretDB on $want ($have); set M365SYNC_ALT_MONGODB_PORT to a free port"
    say "second backend: using FerretDB ($want) on $uri (already running)"
  else
    start_ferretdb "$ALT_PORT" "$want" "$data/ferretdb-alt" "${PG_URL}_alt" >/dev/null
  fi
  printf 'MONGODB_URI_ALT=%s\nMONGODB_BACKEND_ALT=%s\n' "$uri" "ferretdb-$want" >>"$data/services.env"
}

# The benchmark's own FerretDB (--bench), on PostgreSQL only: its sessions plan every statement anew
# (`plan_cache_mode=force_custom_plan`), so that the `_id` index the benchmark gives its collections
# (bench/ferretdb-id-index.ts) can serve FerretDB's filter, which names the field as a parameter
# (`_jsonb->$1 @> $2`) where PostgreSQL's generic plan cannot match an index. Kept apart from the
# tests' server, so the tests run on FerretDB as it comes.
start_bench() {
  local uri="mongodb://127.0.0.1:$BENCH_PORT" url="${PG_URL}_bench"
  pg_answers "$url" || { say "benchmark server: none (PostgreSQL does not answer at $PG_URL); the benchmark uses $MONGODB_URI"; return; }
  if uri_answers "$uri"; then
    [[ "$(ferretdb_backend_on "$uri")" == postgresql ]] || fail "127.0.0.1:$BENCH_PORT answers but is not a FerretDB on PostgreSQL; set M365SYNC_BENCH_MONGODB_PORT to a free port"
    say "benchmark server: using FerretDB (PostgreSQL) on $uri (already running)"
  else
    start_ferretdb "$BENCH_PORT" postgresql "$data/ferretdb-bench" "$url?plan_cache_mode=force_custom_plan" >/dev/null
  fi
  printf 'MONGODB_URI_BENCH=%s\nM365SYNC_POSTGRESQL_URL_BENCH=%s\n' "$uri" "$url" >>"$data/services.env"
}

start_redis
start_mongo
backend_label="$MONGODB_BACKEND"
[[ "$MONGODB_BACKEND" == postgresql || "$MONGODB_BACKEND" == sqlite ]] && backend_label="ferretdb-$MONGODB_BACKEND"
printf 'REDIS_URL=%s\nMONGODB_URI=%s\nMONGODB_BACKEND=%s\n' "$REDIS_URL" "$MONGODB_URI" "$backend_label" >"$data/services.env"
if [[ $both_backends == 1 ]]; then start_alt; fi
if [[ $bench == 1 ]]; then start_bench; fi
if [[ $redis_cluster == 1 ]]; then
  # shellcheck disable=SC2086 # the ports are a space-separated list
  bash "$root/scripts/redis-cluster.sh" start "$data/redis-cluster" ${M365SYNC_REDIS_CLUSTER_PORTS:-30001 30002 30003 30004 30005 30006} >>"$data/services.env"
  say "Redis Cluster: $(sed -n 's/^REDIS_CLUSTER_NODES=//p' "$data/services.env")"
fi
