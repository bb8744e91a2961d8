#!/usr/bin/env bash
# Makes sure Debian's python3-winrm (pywinrm) is importable by /usr/bin/python3: the WinRM
# conformance test (test/connectors/winrm/pywinrm.test.ts) drives the simulated PowerShell proxy with it.
# Installs the package when running as root; otherwise says what to run.
set -euo pipefail
if /usr/bin/python3 -c 'import winrm' 2>/dev/null; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing python3-winrm for the pywinrm conformance test…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-winrm >/dev/null
  /usr/bin/python3 -c 'import winrm'
else
  echo "pywinrm is missing: run 'sudo apt-get install -y python3-winrm' (Debian/Ubuntu)." >&2
  exit 1
fi
