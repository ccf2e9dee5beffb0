#!/usr/bin/env bash
# Runs a command in a new user namespace (uids and gids 0-65535 mapped to themselves, so files keep their
# owners) with its own mount and PID namespaces and its own binfmt_misc instance (Linux >= 6.7), in which
# qemu-user-static is registered for arm64 and 32-bit arm. The host's binfmt_misc is never touched: the
# registrations live and die with the namespace. Usage: in-userns.sh QEMU_DIR COMMAND [ARGS...]
# QEMU_DIR holds qemu-aarch64-static and qemu-arm-static (extracted from Debian's qemu-user-static).
set -euo pipefail
if [ "${1:-}" = --inside ]; then
  shift
  qemu="$1"; shift
  # Over the usual path (in this mount namespace only): mmdebstrap looks there for the F flag.
  mnt=/proc/sys/fs/binfmt_misc
  mount -t binfmt_misc binfmt_misc "$mnt"
  # The magic and mask strings are qemu's own (scripts/qemu-binfmt-conf.sh); F opens the interpreter now, so
  # it need not exist inside a chroot.
  printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$qemu"'/qemu-aarch64-static:FOC' >"$mnt/register"
  printf '%s' ':qemu-arm:M::\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$qemu"'/qemu-arm-static:FOC' >"$mnt/register"
  exec "$@"
fi
qemu="$(cd "$1" && pwd)"; shift
[ -x "$qemu/qemu-aarch64-static" ] && [ -x "$qemu/qemu-arm-static" ] || { echo "in-userns: no qemu-*-static in $qemu" >&2; exit 1; }
go="$(mktemp -u)"; mkfifo "$go"
trap 'rm -f "$go"' EXIT
unshare --user --mount --pid --fork --propagation private -- bash -c 'read -r _ <"$0" && exec "$@"' "$go" "$0" --inside "$qemu" "$@" &
pid=$!
self="$(readlink /proc/self/ns/user)"
for _ in $(seq 500); do
  [ "$(readlink "/proc/$pid/ns/user" 2>/dev/null || echo "$self")" != "$self" ] && break
  sleep 0.01
done
echo '0 0 65536' >"/proc/$pid/uid_map"
echo '0 0 65536' >"/proc/$pid/gid_map"
echo go >"$go"
wait "$pid"
