#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy, kubectl, kwok, and helm for the chart test) from the Go modules pinned under hack/gomod into a
# cache outside the checkout, so every clone on this machine reuses one build.
# Cold: about 7 minutes on 2 cores. Warm: nothing to do.
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
source "$HACK/versions.sh"
mkdir -p "$BGO_BIN" "$BGO_STAGES"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"

log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

build() { # build <module dir> <output name> <package> [ldflags]
  local dir="$1" name="$2" pkg="$3" ldflags="${4:--s -w}"
  if [[ -x "$BGO_BIN/$name" ]]; then log "$name: cached"; return; fi
  log "$name: building $pkg"
  local start=$SECONDS
  # A per-process temp name: two builds at once (two clones, CI and a person) must not collide.
  (cd "$HACK/gomod/$dir" && go build -trimpath -ldflags "$ldflags" -o "$BGO_BIN/$name.tmp.$$" "$pkg")
  mv "$BGO_BIN/$name.tmp.$$" "$BGO_BIN/$name"
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
log "binaries ready in $BGO_BIN"
