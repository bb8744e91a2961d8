#!/usr/bin/env bash
# The fault suite and the load test (test/faults, vitest.faults.config.ts): real worker processes
# killed, frozen and cut off from Redis and MongoDB. Each case records what happened in
# .data/fault-results/; afterwards scripts/check-reliability.ts checks that docs/RELIABILITY.md has a
# row for every case recorded. Extra arguments go to vitest (e.g. one file).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rm -rf .data/fault-results
bash scripts/test.sh --config vitest.faults.config.ts "$@"
npx tsx scripts/check-reliability.ts
