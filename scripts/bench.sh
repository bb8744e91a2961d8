#!/usr/bin/env bash
# `npm run bench`: the benchmarks, with their own set-up (dependencies, local services).
#   npm run bench              the component benchmarks (printed), then the nightly re-sync benchmark
#                              and the freshness benchmark, each writing its section of bench/RESULTS.md
#                              and its part of bench/results.json
#   npm run bench -- --quick   the nightly and freshness benchmarks, small sizes, one run each (about two
#                              minutes), written to .data/bench-quick/ (checks they work; no figure is
#                              meaningful)
#   npm run bench -- --freshness [options]   only the freshness benchmark (bench/freshness.ts: a delta
#                              run against a full pull of a 50,000-user tenant; about 4 minutes)
#   npm run bench -- --console [sizes]   only the console benchmark (bench/console.ts: the fleet page
#                              over HTTP with 50 and 5,000 tenants; a few minutes)
#   npm run bench -- --fleet [options]   only the capacity benchmark (bench/fleet.ts: 200 tenants of 200
#                              users with 1, 2 and 4 worker processes, then worker CPU per object at
#                              10,000 users; `--cpu-prof` adds where that CPU goes; `--quick` checks it
#                              works, into .data/bench-quick/)
# Any other arguments go to bench/nightly.ts alone (e.g. --sizes 2000,10000 --runs 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[[ -d node_modules/tsx ]] || npm ci --no-audit --no-fund
bash scripts/services.sh --bench >&2
set -a; source .data/services.env; set +a
# The nightly benchmark runs on its own FerretDB where there is one (services.sh --bench): there its
# collections get the `_id` index MongoDB has (bench/ferretdb-id-index.ts).
if [[ -n "${MONGODB_URI_BENCH:-}" ]]; then
  export MONGODB_URI="$MONGODB_URI_BENCH" MONGODB_BACKEND=ferretdb-postgresql \
    M365SYNC_POSTGRESQL_URL="$M365SYNC_POSTGRESQL_URL_BENCH" M365SYNC_BENCH_ID_INDEX=1
fi
# How it was started, as the results record it (npm passes arguments after `--`).
command="npm run bench${*:+ -- $*}"
freshness() {
  echo "== Freshness: a delta run against a full pull (bench/freshness.ts $*)"
  BENCH_COMMAND=$command npx tsx bench/freshness.ts "$@"
}
if [[ " $* " == *" --console "* ]]; then
  rest=()
  for arg in "$@"; do [[ $arg == --console ]] || rest+=("$arg"); done
  echo "== Console: the fleet page at 50 and 5,000 tenants (bench/console.ts ${rest[*]:-})"
  BENCH_COMMAND=$command npx tsx bench/console.ts ${rest[@]+"${rest[@]}"}
  exit 0
fi
if [[ " $* " == *" --fleet "* ]]; then
  rest=()
  for arg in "$@"; do [[ $arg == --fleet ]] || rest+=("$arg"); done
  echo "== Fleet: capacity with 1, 2 and 4 worker processes (bench/fleet.ts ${rest[*]:-})"
  BENCH_COMMAND=$command npx tsx bench/fleet.ts ${rest[@]+"${rest[@]}"}
  exit 0
fi
if [[ " $* " == *" --freshness "* ]]; then
  rest=()
  for arg in "$@"; do [[ $arg == --freshness ]] || rest+=("$arg"); done
  freshness ${rest[@]+"${rest[@]}"}
  exit 0
fi
if [[ " $* " != *" --quick "* ]]; then
  echo "== Graph connector: 100,000 users, page size 999, 1 run (bench/graph.ts)"
  npx tsx bench/graph.ts 100000 999 1
  echo "== WinRM: 50 MB of output through the client and the pool (bench/winrm.ts)"
  npx tsx bench/winrm.ts 50
  echo "== PowerShell decoders: 50 MB through the simulated tenant and the decoders (bench/powershell.ts)"
  npx tsx bench/powershell.ts 50
fi
echo "== Nightly re-sync against the lower bound (bench/nightly.ts $*)"
BENCH_COMMAND=$command npx tsx bench/nightly.ts "$@"
# The freshness benchmark with its defaults: in the whole run (no arguments) and in the quick one.
if [[ $# -eq 0 ]]; then freshness; elif [[ "$*" == "--quick" ]]; then freshness --quick; fi
