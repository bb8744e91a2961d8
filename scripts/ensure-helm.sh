#!/usr/bin/env bash
# Makes sure Helm (pinned below) is built and cached: the chart tests (test/ops/helm-chart.test.ts) run
# `helm lint` and `helm template` on deploy/helm/m365sync. Helm is built from the Go module proxy, as
# scripts/services.sh builds FerretDB: `go mod download` the pinned module, `go build ./cmd/helm`, once,
# into ~/.cache/m365sync/bin (at low CPU priority: the build takes a few minutes on two cores).
# Prints the binary's path. HELM_VERSION pins the version; v4 is the line the Go proxy here serves whole.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v4.3.2}
cache=${M365SYNC_CACHE:-$HOME/.cache/m365sync}
bin="$cache/bin/helm"
fail() { echo "ensure-helm: $*" >&2; exit 1; }
# (Not `… | grep -q`: with pipefail, grep's early exit fails the pipeline and forces a rebuild.)
if [[ -x "$bin" && "$("$bin" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; then
  echo "$bin"; exit 0
fi
command -v go >/dev/null || fail "Go is missing to build Helm $HELM_VERSION. Install Go, or put helm $HELM_VERSION at $bin."
mkdir -p "$cache/bin"
echo "ensure-helm: building Helm $HELM_VERSION once into $bin (a few minutes)" >&2
major=${HELM_VERSION%%.*}
module="helm.sh/helm/$major"
src=$(go mod download -json "$module@$HELM_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -n "$src" ]] || fail "could not download $module@$HELM_VERSION from the Go module proxy"
# The version is stamped as Helm's Makefile does, so the check above can tell a stale binary.
(cd "$src" && CGO_ENABLED=0 nice -n 19 go build -trimpath \
  -ldflags "-w -s -X $module/internal/version.version=$HELM_VERSION" -o "$bin.tmp" ./cmd/helm) >&2 ||
  fail "building Helm $HELM_VERSION failed (see above)"
mv "$bin.tmp" "$bin"
echo "$bin"
