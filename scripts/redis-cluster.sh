#!/usr/bin/env bash
# A local Redis Cluster of this machine's redis-server: three masters with a replica each, on loopback.
# Used by `scripts/services.sh --redis-cluster` and by the cluster suite (test/cluster/), which gives
# it free ports of its own.
#
#   scripts/redis-cluster.sh start <dir> <port> x6   starts the six nodes (data and logs in <dir>/<port>/)
#                                                    unless all already form a cluster; prints
#                                                    REDIS_CLUSTER_NODES=127.0.0.1:<port>,...
#   scripts/redis-cluster.sh stop <dir>              stops the nodes whose pid files are in <dir>
#
#   M365SYNC_REDIS_CLUSTER_NODE_TIMEOUT_MS  cluster-node-timeout (default 2000): how long a master may
#                                           be silent before its replica takes over
# No persistence (`--save ""`, no AOF): a node that is restarted comes back empty and joins as a
# replica of whoever holds its slots; the cluster's copies are the replicas.
set -euo pipefail
say() { echo "redis-cluster: $*" >&2; }
fail() { echo "redis-cluster: ERROR: $*" >&2; exit 1; }

cmd="${1:-}"; dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || fail "usage: redis-cluster.sh start <dir> <port> x6 | stop <dir>"
shift 2
# Absolute: redis-server resolves its log and pid files after changing to --dir.
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)

stop_nodes() {
  local pidfile pid
  shopt -s nullglob
  for pidfile in "$dir"/*/redis.pid; do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    # Only a redis-server that this directory started (its pid file), never one found by name.
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  done
  for pidfile in "$dir"/*/redis.pid; do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    local i
    for ((i = 0; i < 50; i++)); do [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

cluster_ok() { # every node answers and the cluster says ok
  local port
  for port in "$@"; do
    [[ "$(redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')" == ok ]] || return 1
  done
}

case "$cmd" in
  stop) stop_nodes; exit 0 ;;
  start) ;;
  *) fail "unknown command $cmd" ;;
esac

[[ $# -eq 6 ]] || fail "start needs six ports (three masters, three replicas), got $#"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
  fail "redis-server and redis-cli are needed (apt-get install redis-server)"
ports=("$@")
nodes=$(printf '127.0.0.1:%s,' "${ports[@]}"); nodes=${nodes%,}

if cluster_ok "${ports[@]}"; then
  say "using the cluster already running on ${ports[*]}"
  echo "REDIS_CLUSTER_NODES=$nodes"
  exit 0
fi

# Some nodes are up but the cluster is not whole: start it over (no data is kept anyway).
stop_nodes
timeout_ms="${M365SYNC_REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}"
for port in "${ports[@]}"; do
  if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
    fail "127.0.0.1:$port answers but is not a node of this cluster (its pid file is not in $dir); choose other ports"
  fi
  mkdir -p "$dir/$port"
  rm -f "$dir/$port/nodes.conf"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout "$timeout_ms" \
    --dir "$dir/$port" --logfile "$dir/$port/redis.log" --pidfile "$dir/$port/redis.pid" >/dev/null
done
for port in "${ports[@]}"; do
  for ((i = 0; i < 100; i++)); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 || fail "node $port did not answer; see $dir/$port/redis.log"
done
hosts=(); for port in "${ports[@]}"; do hosts+=("127.0.0.1:$port"); done
redis-cli --cluster create "${hosts[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
  fail "redis-cli --cluster create failed; see $dir/create.log"
# Created is not yet ready: wait until every node agrees the cluster is ok.
for ((i = 0; i < 150; i++)); do cluster_ok "${ports[@]}" && break; sleep 0.2; done
cluster_ok "${ports[@]}" || fail "the cluster did not become ok within 30 s; see $dir/*/redis.log"
say "started a cluster of 3 masters and 3 replicas on ${ports[*]} (node timeout ${timeout_ms} ms, data in $dir)"
echo "REDIS_CLUSTER_NODES=$nodes"
