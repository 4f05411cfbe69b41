#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: openssl (cluster
# certificates), tmux (terminal tests of the kubectl plugin), prometheus (promtool checks
# /metrics and the alert rules). Does nothing when all are present.
set -euo pipefail
need=()
for pkg in openssl tmux prometheus; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
((${#need[@]} == 0)) && exit 0
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "[debian-packages] installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
