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
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" --target metricsgate statsd_load -j "$(nproc)" >/dev/null
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
web=$(free_port); udp=$(free_port)
"$root/build/server/metricsgate" --web.listen-address="127.0.0.1:$web" \
  --statsd.listen-udp="127.0.0.1:$udp" --statsd.listen-tcp= --log.level=warn &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$web") 2>/dev/null && break; sleep 0.1; done
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
