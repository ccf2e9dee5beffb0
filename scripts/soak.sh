#!/bin/sh
# A longer soak than CI's (test/reliability/soak.test.ts, 90 s): scripts/soak.sh [MINUTES] (default 10).
# Needs what the integration tests need (root for the private dockerd, docker-registry); prints one
# `soak:` summary line. Builds first, since the test runs the built daemon.
set -eu
minutes=${1:-10}
case $minutes in ''|*[!0-9]*) echo "soak.sh: MINUTES must be a whole number, not '$minutes'" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
npm run build >/dev/null
RESOLVER_SOAK_SECONDS=$((minutes * 60)) exec npx vitest run --project integration test/reliability/soak.test.ts --testTimeout=$(( (minutes * 60 + 300) * 1000 ))
