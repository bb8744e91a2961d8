#!/usr/bin/env bash
# `npm run bench`: the benchmarks, with their own set-up (dependencies, local services). Sizes are
# modest so it finishes in minutes on two cores; each bench takes its sizes as arguments too.
# Record what it prints in bench/RESULTS.md, with the command.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[[ -d node_modules/tsx ]] || npm ci --no-audit --no-fund
bash scripts/services.sh >&2
set -a; source .data/services.env; set +a
echo "== Graph connector: 100,000 users, page size 999, 1 run (bench/graph.ts)"
npx tsx bench/graph.ts 100000 999 1
echo "== WinRM: 50 MB of output through the client and the pool (bench/winrm.ts)"
npx tsx bench/winrm.ts 50
echo "== PowerShell decoders: 50 MB through the simulated tenant and the decoders (bench/powershell.ts)"
npx tsx bench/powershell.ts 50
echo "== Full pull of a simulated tenant, 2,000 users (bench/full-pull.ts)"
npx tsx bench/full-pull.ts 2000
