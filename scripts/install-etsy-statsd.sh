#!/usr/bin/env bash
# Installs Etsy statsd 0.9.0 from npm into .cache/etsy-statsd-0.9.0 (once): the reference the
# Graphite rollups are tested against and the StatsD benchmark compares with. Needs nodejs and
# npm (scripts/install-deps.sh --test installs them). Prints the package's directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
etsy_dir="$root/.cache/etsy-statsd-0.9.0"
if [ ! -f "$etsy_dir/node_modules/statsd/stats.js" ]; then
  mkdir -p "$etsy_dir"
  (cd "$etsy_dir" && npm install --no-audit --no-fund --ignore-scripts statsd@0.9.0 >/dev/null)
fi
echo "$etsy_dir/node_modules/statsd"
