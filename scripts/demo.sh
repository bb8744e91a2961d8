#!/usr/bin/env bash
# `npm run demo`: everything the demo needs, on a fresh machine: dependencies, local services,
# a development encryption key (kept in .data/, never used in production), then the demo itself.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[[ -d node_modules/tsx ]] || npm ci --no-audit --no-fund
bash scripts/services.sh
set -a; source .data/services.env; set +a
if [[ -z "${M365SYNC_ENCRYPTION_KEYS:-}" ]]; then
  [[ -f .data/dev-encryption-keys ]] || node -e "console.log('dev:'+require('crypto').randomBytes(32).toString('base64'))" >.data/dev-encryption-keys
  M365SYNC_ENCRYPTION_KEYS=$(cat .data/dev-encryption-keys)
  export M365SYNC_ENCRYPTION_KEYS
  echo "demo: using the development encryption key in .data/dev-encryption-keys"
fi
export M365SYNC_DB="${M365SYNC_DB:-m365sync_demo}"
exec npx tsx cli/demo.ts "$@"
