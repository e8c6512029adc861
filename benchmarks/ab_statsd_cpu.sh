#!/usr/bin/env bash
# Two metricsgate binaries side by side under the same StatsD load: trials alternate between
# them (so a shared machine's drifts hit both alike) and each reports the server's CPU time per
# metric (user + system, /proc) at a fixed rate; prints every trial and the medians.
#   benchmarks/ab_statsd_cpu.sh BEFORE_BINARY AFTER_BINARY [--rounds=6] [--rate=3000000]
#                               [--mix=counters|mixed] [--duration=2]
# Everything binds 127.0.0.1 on free ports; every trial stops by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 2 ]] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY [--rounds=N] [--rate=R] [--mix=M] [--duration=S]" >&2; exit 2; }
binaries=("$1" "$2"); shift 2
rounds=6; rate=3000000; mix=counters; duration=2
for arg in "$@"; do
  case "$arg" in
    --rounds=*) rounds="${arg#*=}" ;;
    --rate=*) rate="${arg#*=}" ;;
    --mix=*) mix="${arg#*=}" ;;
    --duration=*) duration="${arg#*=}" ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
source "$root/benchmarks/common.sh"
build_bench_tools
load="$root/build/benchmarks/statsd_load"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
web=(); udp=()
for i in 0 1; do
  web[$i]=$(free_port); udp[$i]=$(free_port)
  "${binaries[$i]}" --web.listen-address="127.0.0.1:${web[$i]}" \
    --statsd.listen-udp="127.0.0.1:${udp[$i]}" --statsd.listen-tcp= --log.level=warn &
  pids[$i]=$!
  wait_port "${web[$i]}"
done
results=("" "")
for ((r = 1; r <= rounds; r++)); do
  for i in 0 1; do
    cpu=$("$load" --target="127.0.0.1:${udp[$i]}" --check="prometheus:127.0.0.1:${web[$i]}" \
      --cpu-pid="${pids[$i]}" --rate="$rate" --duration="$duration" --senders=2 --mix="$mix" |
      sed -n 's/^result: .*cpu_ns_per_metric=\([0-9.]*\).*/\1/p')
    results[$i]="${results[$i]} $cpu"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for i in 0 1; do
  echo "${binaries[$i]}: ns per metric at $rate/s ($mix):${results[$i]}; median $(echo "${results[$i]}" | median)"
done
