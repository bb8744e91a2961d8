#!/usr/bin/env bash
# The whole test suite, with its own set-up: installs dependencies when missing, starts the local
# services (Redis, a MongoDB-wire server), then runs vitest. Extra arguments go to vitest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[[ -d node_modules/vitest ]] || npm ci --no-audit --no-fund
bash scripts/services.sh
# The WinRM conformance test drives the simulated proxy with pywinrm (Debian's python3-winrm).
bash scripts/ensure-pywinrm.sh
set -a; source .data/services.env; set +a
exec npx vitest run "$@"
