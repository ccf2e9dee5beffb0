#!/usr/bin/env bash
# Installs what resolver's demo and tests need on a fresh Debian machine: Debian packages (as root),
# npm packages (npm ci) and the build. Safe to run again: it only installs what is missing.
# Usage: scripts/ensure-deps.sh [demo|test]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-test}"

# Node 20.19+, 22.12+ or 24+ (package.json "engines"); Debian 12 ships Node 18, which cannot run resolver.
node_ok() {
  command -v node >/dev/null || return 1
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 24 ? 0 : 1)'
}
if ! node_ok; then
  echo "resolver needs Node 20.19+, 22.12+ or 24+; found: $(command -v node >/dev/null && node -p "\"v\" + process.versions.node" || echo none)." >&2
  echo "  install one, e.g. from NodeSource (https://github.com/nodesource/distributions) or nvm, or Debian 13's nodejs, then run this script again" >&2
  exit 1
fi

need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
# dockerd (20.10) with containerd and runc: the engine the demo and the tests run containers on.
[ -x /usr/sbin/dockerd ] || need+=(docker.io)
if [ "$mode" = test ]; then
  command -v htpasswd >/dev/null || need+=(apache2-utils)
  command -v openssl >/dev/null || need+=(openssl)
  command -v skopeo >/dev/null || need+=(skopeo)
  # Podman 4.3 (its Docker-compatible service) for the Podman e2e; ctr (in containerd) reads the containerd store.
  command -v podman >/dev/null || need+=(podman)
  command -v ctr >/dev/null || need+=(containerd)
  [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 ] || need+=(faketime)
  command -v systemd-analyze >/dev/null || need+=(systemd)
  # The MQTT broker (and mosquitto_sub) the notification tests publish to, started by the test on loopback.
  [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
  command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
  # Prometheus and promtool: the API e2e scrapes /metrics with a real Prometheus and lints it (test/e2e/api.test.ts).
  [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need+=(prometheus)
  # Network namespaces the reliability suite creates (blackholed SYNs, a TLS registry off loopback).
  command -v ip >/dev/null || need+=(iproute2)
  command -v iptables >/dev/null || need+=(iptables)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
