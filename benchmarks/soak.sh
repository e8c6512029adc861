#!/usr/bin/env bash
# Runs metricsgate under a steady StatsD load (statsd_load, counters, 20 per packet, 10,000
# names) for a while and prints its resident memory every 10 s, to show it stays flat, then
# the loss over the whole run.
#
#   benchmarks/soak.sh [--seconds=300] [--rate=2000000] [--senders=2]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=300
rate=2000000
senders=2
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --rate=*) rate="${arg#*=}" ;;
    --senders=*) senders="${arg#*=}" ;;
    *) echo "usage: $0 [--seconds=S] [--rate=METRICS_PER_S] [--senders=N]" >&2; exit 2 ;;
  esac
done
source "$root/benchmarks/common.sh"
build_bench_tools
web=$(free_port); udp=$(free_port)
"$root/build/server/metricsgate" --web.listen-address="127.0.0.1:$web" \
  --statsd.listen-udp="127.0.0.1:$udp" --statsd.listen-tcp= --log.level=warn &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
wait_port "$web"
"$root/build/benchmarks/statsd_load" --target="127.0.0.1:$udp" --check="prometheus:127.0.0.1:$web" \
  --rate="$rate" --duration="$seconds" --senders="$senders" --cpu-pid="$pid" > "/tmp/soak.$$" &
load=$!
start=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
  echo "t=$(( $(date +%s) - start ))s rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
  sleep 10
done
wait "$load"
cat "/tmp/soak.$$"; rm -f "/tmp/soak.$$"
