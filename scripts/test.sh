#!/usr/bin/env bash
# The whole test suite, with its own set-up: installs dependencies when missing, starts the local
# services (Redis, a MongoDB-wire server), checks types, lint and format (whole suite only), then runs
# vitest. Extra arguments go to vitest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[[ -d node_modules/vitest ]] || npm ci --no-audit --no-fund
bash scripts/services.sh --both-backends
# The WinRM conformance test drives the simulated proxy with pywinrm (Debian's python3-winrm).
bash scripts/ensure-pywinrm.sh
# The observability tests (test/ops) run Debian's prometheus, promtool and docker-compose.
bash scripts/ensure-ops-tools.sh
# The chart tests (test/ops/helm-chart.test.ts) run `helm lint` and `helm template` of the pinned Helm,
# built once from the Go module proxy into ~/.cache/m365sync/bin.
bash scripts/ensure-helm.sh >/dev/null
# The console's browser tests (test/console/) drive Debian's chromium with playwright-core; without it
# (not root, no apt) they skip and say why, so its absence does not stop the rest of the suite.
bash scripts/ensure-browser.sh || true
set -a; source .data/services.env; set +a
if [[ $# -eq 0 ]]; then
  # The whole suite also checks types, lint and format: what CI runs must keep main clean.
  npm run --silent typecheck
  npm run --silent lint
fi
exec npx vitest run "$@"
