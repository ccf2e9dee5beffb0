#!/bin/sh
# resolver (the packaged /usr/bin/resolver): starts the bundle from the V8 startup snapshot that
# resolver-build-snapshot wrote for this Node binary (docs/packaging.md §Startup snapshot), else through the
# plain launcher, as before. Either way `exec`: the same process, its exit code and signals.
# The snapshot is trusted code (like the code cache, bench/README.md): it is used only when every folder on
# the way to it and every file it is checked against is owned by root and writable by no one else, and the
# Node on PATH, its libnode and the bundle are the very files (device, inode, size, mtime) it was built
# from. Not when NODE_OPTIONS is set (V8 flags there would not match the blob's) or RESOLVER_SNAPSHOT=0.
app=@APP@
dir=@CACHE@
if [ -z "${NODE_OPTIONS:-}" ] && [ "${RESOLVER_SNAPSHOT:-}" != 0 ] && [ -f "$dir/snapshot.key" ] && node=$(command -v node); then
	if { read -r head && read -r files && read -r want; } <"$dir/snapshot.key" 2>/dev/null && [ "$head" = 'resolver-snapshot/1 --liftoff-only' ]; then
		# One stat: the folders (trust only), then the Node on PATH and the files the blob was built from.
		# shellcheck disable=SC2086 # $files: paths without spaces, one word each
		have=$(stat -L --printf '%u:%a:%d:%i:%s:%Y ' -- / "${dir%/*/*}" "${dir%/*}" "$dir" "$node" $files 2>/dev/null) || have=
		ok=${have:+yes}
		n=0
		seen=
		for e in $have; do
			n=$((n + 1))
			mode=${e#*:}
			mode=${mode%%:*}
			case $e in 0:*) ;; *) ok=no ;; esac
			case $mode in *[2367][0-7] | *[2367]) ok=no ;; esac
			[ "$n" -gt 4 ] && seen="$seen${e#*:*:} "
		done
		# (read strips the trailing space of the key line)
		if [ "$ok" = yes ] && [ "${seen% }" = "$want" ]; then
			exec "$node" --liftoff-only --snapshot-blob "$dir/snapshot.blob" -- "$@"
		fi
	fi
fi
exec node "$app/bin/resolver.cjs" "$@"
