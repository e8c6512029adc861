#!/usr/bin/env bash
# Installs what is missing, builds, and runs metricsgate with its embedded defaults
# (StatsD on :8125/udp, HTTP on :9091). Arguments are passed on: scripts/run.sh --help
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" --target metricsgate -j "$(nproc)"
exec "$root/build/server/metricsgate" "$@"
