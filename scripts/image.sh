#!/usr/bin/env bash
# resolver's own multi-arch container image, built here without a base image and pushed by resolver itself:
#   scripts/image.sh REGISTRY/REPO:TAG [--platforms linux/amd64,linux/arm64/v8,linux/arm/v7] [--out DIR]
# Each child's root filesystem is assembled from Debian 13 packages (mmdebstrap --variant=extract: nothing runs
# under emulation), a Node runtime and the release tarball (scripts/package.mjs); the layers and configs are
# written by scripts/image.mjs, the children pushed as TAG-<os>-<arch>[-<variant>], and the multi-arch tag by
# `resolver manifest push --from-spec` (the seed's own workflow). docs/packaging.md says what is in it and why.
# Needs: npm ci (it runs npm run build when dist/ is missing), mmdebstrap (scripts/package-deps.sh), root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/image.sh REGISTRY/REPO:TAG [--platforms P,P...] [--out DIR]" >&2; exit 2; }
if [ ! -s dist/resolver.bundle.cjs ] || [ ! -s dist/resolver-mqtt.cjs ]; then npm run build >&2; fi
scripts/package-deps.sh >&2
exec node scripts/image.mjs "$@"
