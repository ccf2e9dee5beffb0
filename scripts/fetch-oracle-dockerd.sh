#!/usr/bin/env bash
# Fetches Debian 13 (trixie)'s docker.io 26.1.5 and extracts its dockerd into .tmp/oracle, for the
# differential tests. It uses a separate sources list and state folder: nothing is added to the system's
# apt sources. The binary runs with Debian 12's containerd and runc.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.tmp/oracle
[ -x "$dest/usr/sbin/dockerd" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
cat > "$work/trixie.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
opts=(-o "Dir::Etc::sourcelist=$work/trixie.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
apt-get "${opts[@]}" update -qq
(cd "$work" && apt-get "${opts[@]}" download docker.io >/dev/null 2>&1)
deb=$(ls "$work"/docker.io_*.deb)
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest"
"$dest/usr/sbin/dockerd" --version
