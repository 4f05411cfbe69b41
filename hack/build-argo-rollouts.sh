#!/usr/bin/env bash
# Builds Argo Rollouts (the controller and its kubectl plugin) from the Go module pinned under
# hack/gomod/argo-rollouts into a cache of its own outside the checkout, for `make bench-compare`.
# Its CRDs are copied from the same module. Cold: about 4 minutes on 2 cores. Warm: nothing to do.
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$HACK/versions.sh"
mkdir -p "$BGO_ANCHOR_BIN"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod" GOTOOLCHAIN="$ARGO_ROLLOUTS_TOOLCHAIN" CGO_ENABLED=0
MOD=github.com/argoproj/argo-rollouts
LDFLAGS="-s -w -X $MOD/utils/version.version=$ARGO_ROLLOUTS_VERSION -X $MOD/utils/version.gitTreeState=clean"

log() { printf '[build-argo-rollouts %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# The version in go.mod is the one versions.sh names (the cache key): a bump of one alone is a mistake.
pinned="$(cd "$HACK/gomod/argo-rollouts" && go list -m -f '{{.Version}}' "$MOD")"
if [[ "$pinned" != "$ARGO_ROLLOUTS_VERSION" ]]; then
  echo "hack/gomod/argo-rollouts pins $pinned, hack/versions.sh says $ARGO_ROLLOUTS_VERSION" >&2
  exit 1
fi

for cmd in rollouts-controller kubectl-argo-rollouts; do
  if [[ -x "$BGO_ANCHOR_BIN/$cmd" ]]; then log "$cmd: cached"; continue; fi
  log "$cmd: building $MOD/cmd/$cmd with $GOTOOLCHAIN"
  start=$SECONDS
  # A per-process temp name: two builds at once must not collide.
  (cd "$HACK/gomod/argo-rollouts" && go build -trimpath -ldflags "$LDFLAGS" -o "$BGO_ANCHOR_BIN/$cmd.tmp.$$" "$MOD/cmd/$cmd")
  mv "$BGO_ANCHOR_BIN/$cmd.tmp.$$" "$BGO_ANCHOR_BIN/$cmd"
  log "$cmd: built in $((SECONDS - start)) s"
done

# The Rollout CRD (and the analysis ones the controller also watches) from the module that built the controller.
DIR="$(cd "$HACK/gomod/argo-rollouts" && go list -m -f '{{.Dir}}' "$MOD")"
mkdir -p "$BGO_ANCHOR_BIN/../crds"
for f in "$DIR"/manifests/crds/*-crd.yaml; do install -m 0644 "$f" "$BGO_ANCHOR_BIN/../crds/"; done
log "Argo Rollouts $ARGO_ROLLOUTS_VERSION ready in $BGO_ANCHOR_BIN"
