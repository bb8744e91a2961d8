#!/usr/bin/env bash
# `m365sync …` from anywhere: runs the TypeScript entry point with tsx from this checkout.
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
exec "$root/node_modules/.bin/tsx" "$root/cli/cli.ts" "$@"
