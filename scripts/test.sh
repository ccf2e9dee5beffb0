#!/usr/bin/env bash
# Quick start, command 2: typecheck, type-aware lint, then every test (unit, property, integration against
# real registries, and the differential test against Debian 13's dockerd 26.1.5). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh test
scripts/fetch-oracle-dockerd.sh
npm run check
