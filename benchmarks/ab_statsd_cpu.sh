#!/usr/bin/env bash
# Two metricsgate binaries side by side under the same StatsD load: trials alternate between
# them (so a shared machine's drifts hit both alike) and each reports the server's CPU time per
# metric (user + system, /proc) at a fixed rate; prints every trial and the medians.
#   benchmarks/ab_statsd_cpu.sh BEFORE_BINARY AFTER_BINARY [--rounds=6] [--rate=3000000]
#                               [--mix=counters|mixed] [--duration=2] [--new-series]
#                               [--server-args="--storage.sort-ahead=false ..."]
# --new-series: every metric is a new series (rate x duration names, no name twice), the cost
# of creating series under churn; each trial then starts its servers anew.
# Everything binds 127.0.0.1 on free ports; every trial stops by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 2 ]] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY [--rounds=N] [--rate=R] [--mix=M] [--duration=S]" >&2; exit 2; }
binaries=("$1" "$2"); shift 2
rounds=6; rate=3000000; mix=counters; duration=2; new_series=false; server_args=""
for arg in "$@"; do
  case "$arg" in
    --rounds=*) rounds="${arg#*=}" ;;
    --rate=*) rate="${arg#*=}" ;;
    --mix=*) mix="${arg#*=}" ;;
    --duration=*) duration="${arg#*=}" ;;
    --new-series) new_series=true ;;
    --server-args=*) server_args="${arg#*=}" ;;
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
names=10000; max_series=()
if $new_series; then
  names=$(awk -v r="$rate" -v d="$duration" 'BEGIN {printf "%d", r * d}')
  max_series=(--storage.max-series=$((names + 100000)))
fi
start() {  # starts server $1
  web[$1]=$(free_port); udp[$1]=$(free_port)
  # shellcheck disable=SC2086 # server_args: several flags
  "${binaries[$1]}" --web.listen-address="127.0.0.1:${web[$1]}" \
    --statsd.listen-udp="127.0.0.1:${udp[$1]}" --statsd.listen-tcp= --log.level=warn \
    "${max_series[@]}" $server_args &
  pids[$1]=$!
  wait_port "${web[$1]}"
}
stop() { kill "${pids[$1]}"; wait "${pids[$1]}" 2>/dev/null || true; }
$new_series || { start 0; start 1; }
results=("" "")
for ((r = 1; r <= rounds; r++)); do
  for i in 0 1; do
    $new_series && start "$i"
    cpu=$("$load" --target="127.0.0.1:${udp[$i]}" --check="prometheus:127.0.0.1:${web[$i]}" \
      --cpu-pid="${pids[$i]}" --rate="$rate" --duration="$duration" --senders=2 --mix="$mix" \
      --names="$names" | sed -n 's/^result: .*cpu_ns_per_metric=\([0-9.]*\).*/\1/p')
    $new_series && stop "$i"
    results[$i]="${results[$i]} $cpu"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for i in 0 1; do
  echo "${binaries[$i]}: ns per metric at $rate/s ($mix$($new_series && echo ", each a new series")):${results[$i]}; median $(echo "${results[$i]}" | median)"
done
