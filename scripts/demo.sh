#!/usr/bin/env bash
# Quick start, command 1: resolve the seed article's multi-arch super-golang against a private local registry.
# The demo lives in the test sandbox (test/sandbox/demo.ts, not shipped): built here into .tmp/sandbox/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh demo
node scripts/build-sandbox.mjs
exec node .tmp/sandbox/demo.js
