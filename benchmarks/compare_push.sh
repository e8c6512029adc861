#!/usr/bin/env bash
# Issue #5's push benchmark, the same load against metricsgate and Debian's
# prometheus-pushgateway in one run: with 1,000 groups x 100 metrics already stored, PUTs of a
# 100-metric group (to those groups in turn) over 4 connections with wrk; prints requests/s,
# median and p99 latency for each, and the ratio.
#   benchmarks/compare_push.sh [--seconds=10] [--pushgateway-seconds=20]
# Pushgateway re-checks its whole store on every push (about 0.2 s per push at this size), so
# preloading it push by push would take minutes: it is preloaded with its check off and a
# persistence file, stopped (which writes the file), and started again with the check on.
# Everything binds 127.0.0.1; every load stops by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=10
pg_seconds=20
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --pushgateway-seconds=*) pg_seconds="${arg#*=}" ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
source "$root/benchmarks/common.sh"
build_bench_tools
install_packages wrk prometheus-pushgateway

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
work="$(mktemp -d)"

# PUTs the 1,000 groups of 100 metrics to 127.0.0.1:$1 on one connection.
preload() {
  /usr/bin/python3 - "$1" <<'PY'
import http.client, sys
body = "".join(f'bench_metric_{i}{{kind="load"}} {i}\n' for i in range(100))
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
for group in range(1000):
    conn.request("PUT", f"/metrics/job/bench/group/{group}", body)
    response = conn.getresponse()
    response.read()
    assert response.status in (200, 202), (group, response.status)
PY
}

# Runs wrk against port $1 for $2 seconds; prints "requests/s p50 p99".
load() {
  wrk -t2 -c4 -d"$2"s --latency -s "$root/benchmarks/push_put.lua" "http://127.0.0.1:$1" \
    >"$work/wrk.$1"
  if grep -q "Non-2xx" "$work/wrk.$1"; then
    echo "wrk saw failed pushes:" >&2; cat "$work/wrk.$1" >&2; exit 1
  fi
  awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print r, p50, p99}' \
    "$work/wrk.$1"
}

mg_port=$(free_port)
"$root/build/server/metricsgate" --web.listen-address="127.0.0.1:$mg_port" --statsd.listen-udp= \
  --statsd.listen-tcp= --log.level=warn &
pids+=($!)
wait_port "$mg_port"
preload "$mg_port"
echo "== metricsgate: PUT 100 metrics, 1,000 groups x 100 stored, 4 connections, ${seconds}s"
read -r mg_rate mg_p50 mg_p99 < <(load "$mg_port" "$seconds")
echo "requests/s $mg_rate, median $mg_p50, p99 $mg_p99"

pg_port=$(free_port)
pg_file="$work/pushgateway.data"
prometheus-pushgateway --web.listen-address="127.0.0.1:$pg_port" --persistence.file="$pg_file" \
  --push.disable-consistency-check --log.level=error &
pg_pid=$!; pids+=("$pg_pid")
wait_port "$pg_port"
preload "$pg_port"
kill "$pg_pid"; wait "$pg_pid" 2>/dev/null || true  # writes the file
pg_port=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$pg_port" --persistence.file="$pg_file" \
  --log.level=error &
pids+=($!)
wait_port "$pg_port"
echo "== prometheus-pushgateway $(prometheus-pushgateway --version 2>&1 | head -1 | awk '{print $3}'): the same load, ${pg_seconds}s"
read -r pg_rate pg_p50 pg_p99 < <(load "$pg_port" "$pg_seconds")
echo "requests/s $pg_rate, median $pg_p50, p99 $pg_p99"

echo
echo "== summary"
printf '%-24s %12s %10s %10s\n' "" "requests/s" "median" "p99"
printf '%-24s %12s %10s %10s\n' "metricsgate" "$mg_rate" "$mg_p50" "$mg_p99"
printf '%-24s %12s %10s %10s\n' "prometheus-pushgateway" "$pg_rate" "$pg_p50" "$pg_p99"
awk -v a="$mg_rate" -v b="$pg_rate" 'BEGIN { printf "metricsgate / Pushgateway: %.0fx\n", a / b }'
