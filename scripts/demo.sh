#!/usr/bin/env bash
# Quick start, command 1: resolve the seed article's multi-arch super-golang against a private local registry.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh demo
exec node dist/sandbox/demo.js
