#!/usr/bin/env bash
# Makes sure Debian's Prometheus (prometheus, promtool), Alertmanager (amtool) and docker-compose are
# on PATH: the observability tests (test/ops/) scrape the real processes with Prometheus, check
# metrics and alert rules with promtool (`check rules`, `test rules`), check the Alertmanager
# configuration with `amtool check-config`, and render docker-compose.yml with `docker-compose config`.
# Installs the packages when running as root; otherwise says what to run. Debian's packages do not
# start a Prometheus or Alertmanager service here (no init system; the test starts its own on loopback).
set -euo pipefail
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[[ ${#missing[@]} -eq 0 ]] && exit 0
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "Installing $packages for the observability tests…" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
  command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v amtool >/dev/null &&
    command -v docker-compose >/dev/null
else
  echo "Missing for the observability tests: run 'sudo apt-get install -y $packages' (Debian/Ubuntu)." >&2
  exit 1
fi
