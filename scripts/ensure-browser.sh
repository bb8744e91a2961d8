#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium: the console's browser tests (test/console/)
# drive it with playwright-core (which brings no browser of its own). Installs the package when
# running as root with apt; otherwise says what to run and exits 1, and the browser tests skip with
# that message.
set -euo pipefail
[[ -x /usr/bin/chromium ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing chromium for the console's browser tests…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  [[ -x /usr/bin/chromium ]]
else
  echo "Missing for the console's browser tests: run 'sudo apt-get install -y chromium' (Debian/Ubuntu)." >&2
  exit 1
fi
