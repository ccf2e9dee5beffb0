#!/bin/sh
# resolver-build-snapshot: writes the V8 startup snapshot of the bundle for the `node` on PATH into @CACHE@
# (snapshot.blob, and snapshot.key: what it was built from, checked by resolver at every start), as root.
# Run by the package's postinst and by its trigger on Node's files (an upgrade of nodejs makes the blob
# useless: resolver then starts without it until this runs). A failure leaves no blob: resolver works as
# before, slower. docs/packaging.md §Startup snapshot.
#   resolver-build-snapshot          build (or rebuild)
#   resolver-build-snapshot --remove remove the blob and its key
set -eu
app=@APP@
dir=@CACHE@
flags=--liftoff-only
say() { echo "resolver-build-snapshot: $*" >&2; }
if [ "${1:-}" = --remove ]; then
	rm -f "$dir/snapshot.key" "$dir/snapshot.blob"
	rm -rf "$dir"/.build.*
	rmdir "$dir" 2>/dev/null || true
	exit 0
fi
[ "$(id -u)" = 0 ] || { say "run it as root: the snapshot is trusted code and lives in a folder only root can write ($dir)"; exit 1; }
node=$(command -v node) || { say "no node on PATH"; exit 1; }
umask 022
mkdir -p "$dir"
chown 0:0 "$dir"
chmod 0755 "$dir"
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Until the new key is in place, resolver starts without a snapshot.
rm -f "$dir/snapshot.key"
if ! "$node" $flags --snapshot-blob "$tmp/snapshot.blob" --build-snapshot "$app/bin/resolver-snapshot.cjs" "$tmp/files" >"$tmp/log" 2>&1; then
	tail -n 5 "$tmp/log" >&2
	say "$node could not build the startup snapshot; resolver starts without it"
	exit 1
fi
# The blob must start the bundle it was built from: the version line scripts/bundle.mjs writes first.
read -r line <"$app/dist/resolver.bundle.cjs"
version=${line#// resolver-version: }
got=$("$node" $flags --snapshot-blob "$tmp/snapshot.blob" -- --version 2>"$tmp/log") || got=
if [ "$got" != "$version" ]; then
	tail -n 5 "$tmp/log" >&2
	say "the snapshot built by $node does not start (resolver --version said '$got', not '$version'); resolver starts without it"
	exit 1
fi
chmod 0644 "$tmp/snapshot.blob"
mv -f "$tmp/snapshot.blob" "$dir/snapshot.blob"
# The Node binary itself is checked through the node on PATH when resolver starts; the rest are listed.
files=$(sed 1d "$tmp/files" | tr '\n' ' ')"$app/dist/resolver.bundle.cjs $dir/snapshot.blob"
# shellcheck disable=SC2086 # $files: paths without spaces, one word each
want=$(stat -L --printf '%d:%i:%s:%Y ' -- "$node" $files)
printf 'resolver-snapshot/1 %s\n%s\n%s\n' "$flags" "$files" "$want" >"$tmp/snapshot.key"
chmod 0644 "$tmp/snapshot.key"
mv -f "$tmp/snapshot.key" "$dir/snapshot.key"
say "built $dir/snapshot.blob ($(stat -c %s "$dir/snapshot.blob") bytes) for $node"
