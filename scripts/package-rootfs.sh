#!/usr/bin/env bash
# Debian 13 (trixie) userlands for the packaging and ARM tests, as tarballs cached under .tmp/debian/, named by
# the architecture and a hash of this script (its package lists and method: a change rebuilds them):
#   scripts/package-rootfs.sh amd64         -> minbase, its apt lists and the .debs of nodejs and
#                                              init-system-helpers kept, so `apt install ./resolver_….deb`
#                                              installs the dependencies from Debian without a network
#   scripts/package-rootfs.sh arm64|armhf   -> dpkg, apt, nodejs and what they and resolver's maintainer scripts
#                                              need, installed and configured (`dpkg -l` says "ii" for each),
#                                              ready for `apt install ./resolver_….deb` under qemu-user
# The ARM userlands are built in two steps so that nothing but maintainer scripts runs under emulation:
#  1. mmdebstrap --variant=extract downloads the packages (and their dependencies) and unpacks them with the
#     host's tools;
#  2. the host's (amd64) dpkg installs the same .debs with --root: it unpacks natively, and runs every
#     maintainer script and trigger chrooted into the userland, where the namespace's binfmt_misc hands the
#     arm64/armhf binaries to qemu-user. The deb-systemd-helper/-invoke calls of the bootstrap's own packages
#     (apt's, dpkg's timers: perl under qemu, ~1 min, and no systemd runs there) are answered by a no-op
#     found first on PATH during this step only; resolver's own maintainer scripts, run later by the test's
#     apt, use the real ones.
# A minbase bootstrap entirely under qemu took over 15 minutes on this 2-core machine; docs/packaging.md has the
# measured times of each approach. Everything runs in a private user and mount namespace
# (packaging/qemu/in-userns.sh): its mounts and binfmt registrations never reach the host.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:?usage: package-rootfs.sh amd64|arm64|armhf}"
key="$(sha256sum scripts/package-rootfs.sh | cut -c1-12)"
out=".tmp/debian/trixie-$arch-$key.tar"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
mkdir -p .tmp/debian
# Test files run in parallel and may ask for the same userland: one builds it, the others wait for it.
exec 9>".tmp/debian/trixie-$arch.lock"
flock 9
if [ -s "$out" ]; then echo "$out"; exit 0; fi
# The archive mmdebstrap uses (its default, the same host as this machine's apt sources). Exit 75 (EX_TEMPFAIL)
# tells the tests to skip, saying why, rather than fail.
archive=http://deb.debian.org/debian
if ! curl -fsS --max-time 30 -o /dev/null "$archive/dists/trixie/InRelease" 2>/dev/null; then
  echo "package-rootfs: Debian's archive is unreachable ($archive/dists/trixie/InRelease): cannot build the trixie $arch userland" >&2
  exit 75
fi
scripts/package-deps.sh >&2
partial=".tmp/debian/trixie-$arch.partial.tar"
rm -f "$partial"
start=$SECONDS

# What the ARM userlands hold: the package manager, Debian's nodejs, what resolver's Depends name
# (init-system-helpers, and perl-base for its deb-systemd-helper), and the tools dpkg's and resolver's
# maintainer scripts call (coreutils, sed, grep, findutils, diffutils, debianutils, tar, gzip, libc-bin's getent
# and ldconfig). Their dependencies come with them. Not the rest of the Essential set (util-linux, login and PAM,
# bash, ncurses...): nothing here uses it, and PAM's and debconf's perl scripts cost minutes under qemu.
arm_packages=base-files,base-passwd,libc-bin,dpkg,apt,init-system-helpers,perl-base,dash,coreutils,sed,grep,findutils,diffutils,debianutils,tar,gzip,nodejs,libatomic1

if [ "$arch" = amd64 ]; then
  packaging/qemu/in-userns.sh .tmp/qemu mmdebstrap --quiet --mode=root --architectures=amd64 --variant=minbase \
    --skip=cleanup/apt \
    --customize-hook='chroot "$1" apt-get install --download-only -y -q nodejs init-system-helpers >/dev/null' \
    trixie "$partial" >&2
else
  dir=".tmp/debian/trixie-$arch.partial"
  rm -rf "$dir"
  mkdir -p "$dir"
  packaging/qemu/in-userns.sh .tmp/qemu mmdebstrap --quiet --mode=root --architectures="$arch" --variant=extract \
    --include="$arm_packages" --skip=cleanup/apt/cache \
    --setup-hook='mkdir -p "$1/usr/bin" "$1/usr/lib" "$1/usr/sbin" && ln -s usr/bin "$1/bin" && ln -s usr/lib "$1/lib" && ln -s usr/sbin "$1/sbin"' \
    trixie "$dir" 2> >(grep -v -e '/sys: permission denied' -e 'dmesg(1) may have' >&2) >&2
  extracted=$SECONDS
  # Step 2, in the namespace (root there is the host's root, with binfmt_misc of its own).
  # shellcheck disable=SC2016
  packaging/qemu/in-userns.sh .tmp/qemu bash -c '
    set -euo pipefail
    r="$(realpath "$1")"
    mkdir -p "$r/proc" "$r/dev" "$r/tmp" "$r/run/bootstrap-noop"
    chmod 1777 "$r/tmp"
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    for tool in deb-systemd-helper deb-systemd-invoke; do printf "#!/bin/sh\nexit 0\n" >"$r/run/bootstrap-noop/$tool"; chmod 755 "$r/run/bootstrap-noop/$tool"; done
    # --log: dpkg 1.21 would otherwise append to the host'"'"'s /var/log/dpkg.log.
    PATH="/run/bootstrap-noop:$PATH" dpkg --root="$r" --log="$r/var/log/dpkg.log" --force-architecture --force-depends --force-unsafe-io \
      --path-exclude="/usr/share/man/*" --path-exclude="/usr/share/doc/*" --path-include="/usr/share/doc/*/copyright" \
      --path-exclude="/usr/share/locale/*" --install "$r"/var/cache/apt/archives/*.deb >"$r/tmp/bootstrap.log" 2>&1 \
      || { tail -n 40 "$r/tmp/bootstrap.log" >&2; exit 1; }
    rm -rf "$r/run/bootstrap-noop" "$r/tmp/bootstrap.log"
    rm -f "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin
    # Every package installed and configured, none half-way.
    bad="$(chroot "$r" dpkg-query -W -f "\${db:Status-Abbrev} \${Package}\n" | grep -v "^ii " || true)"
    [ -z "$bad" ] || { echo "package-rootfs: not configured: $bad" >&2; exit 1; }
    # Not what is mounted on /proc and /dev (the namespace unmounts them when it ends).
    tar --numeric-owner --one-file-system -C "$r" -cf "$2" .
  ' bash "$dir" "$partial" >&2
  rm -rf "$dir"
  echo "package-rootfs: $arch extracted in $((extracted - start)) s, installed in $((SECONDS - extracted)) s" >&2
fi
mv "$partial" "$out"
echo "package-rootfs: $out in $((SECONDS - start)) s" >&2
echo "$out"
