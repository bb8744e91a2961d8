#!/usr/bin/env bash
# The fault suite and the load test (test/faults, vitest.faults.config.ts): real worker processes
# killed, frozen and cut off from Redis and MongoDB. Each case records what happened in
# .data/fault-results/; afterwards scripts/check-reliability.ts checks that docs/RELIABILITY.md has a
# row for every case recorded. Extra arguments go to vitest (e.g. one file).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rm -rf .data/fault-results
# The fault suite starts on a FerretDB process of its own: one this checkout started (for `npm test`)
# is stopped here, and scripts/test.sh below starts it afresh. FerretDB v1 stays wedged for good once
# about fifty updates were in flight at once (connectors/mongo/write-limits.ts); the engine keeps under
# that, but the fault suite must not inherit whatever the suite before it left behind.
pidfile=.data/ferretdb/ferretdb.pid
if [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null; then
  for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
fi
bash scripts/test.sh --config vitest.faults.config.ts "$@"
npx tsx scripts/check-reliability.ts
