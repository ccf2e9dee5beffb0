#!/usr/bin/env bash
# Debian 13 (trixie) userlands for the packaging and ARM tests, as tarballs cached under .tmp/debian/:
#   scripts/package-rootfs.sh amd64         -> .tmp/debian/trixie-amd64.tar: minbase, to apt install the .deb in
#   scripts/package-rootfs.sh arm64|armhf   -> .tmp/debian/trixie-ARCH.tar: nodejs and its libraries, extracted
# The amd64 one keeps its apt lists and the .debs of nodejs and init-system-helpers, so `apt install
# ./resolver_….deb` resolves the dependencies without a network. The ARM ones are unpacked, not configured
# (mmdebstrap --variant=extract: nothing runs under emulation while building; a minbase bootstrap under
# qemu-user took over 15 minutes here): Debian's own arm64/armhf node runs from them, and so do npm's ARM
# runtimes (their C library). mmdebstrap runs in a private user and mount namespace (packaging/qemu/in-userns.sh):
# its mounts never reach the host's mount table.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:?usage: package-rootfs.sh amd64|arm64|armhf}"
out=".tmp/debian/trixie-$arch.tar"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
mkdir -p .tmp/debian
scripts/package-deps.sh >&2
partial=".tmp/debian/trixie-$arch.partial.tar"
rm -f "$partial"
start=$SECONDS
if [ "$arch" = amd64 ]; then
  packaging/qemu/in-userns.sh .tmp/qemu mmdebstrap --quiet --mode=root --architectures=amd64 --variant=minbase \
    --skip=cleanup/apt \
    --customize-hook='chroot "$1" apt-get install --download-only -y -q nodejs init-system-helpers >/dev/null' \
    trixie "$partial" >&2
else
  packaging/qemu/in-userns.sh .tmp/qemu mmdebstrap --quiet --mode=root --architectures="$arch" --variant=extract \
    --include=nodejs,dash,libatomic1 \
    --setup-hook='mkdir -p "$1/usr/bin" "$1/usr/lib" && ln -s usr/bin "$1/bin" && ln -s usr/lib "$1/lib" && ln -s usr/sbin "$1/sbin"' \
    --customize-hook='mkdir -p "$1/usr/sbin" "$1/tmp" "$1/proc" "$1/dev" "$1/sys" "$1/run" && chmod 1777 "$1/tmp" && ln -sf dash "$1/usr/bin/sh"' \
    trixie "$partial" >&2
fi
mv "$partial" "$out"
echo "package-rootfs: $out in $((SECONDS - start)) s" >&2
echo "$out"
