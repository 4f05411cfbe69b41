# Pinned versions of the local control plane. Sourced by the build and cluster scripts.
# Changing one changes the cache key, so a new set of binaries is built beside the old.
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.14
KWOK_VERSION=v0.8.0
BGO_CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-operator"
BGO_CACHE="$BGO_CACHE_ROOT/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
BGO_BIN="$BGO_CACHE/bin"
BGO_STAGES="$BGO_CACHE/kwok-stages"
# The anchor `make bench-compare` measures against, in a cache of its own (so bumping it never rebuilds
# the control plane above, and the control plane's key does not cover it). Its go.mod says go 1.26.10:
# the build fetches this toolchain through the module proxy.
ARGO_ROLLOUTS_VERSION=v1.10.2
ARGO_ROLLOUTS_TOOLCHAIN=go1.27.3
BGO_ANCHOR_BIN="$BGO_CACHE_ROOT/argo-rollouts-${ARGO_ROLLOUTS_VERSION}_${ARGO_ROLLOUTS_TOOLCHAIN}/bin"
