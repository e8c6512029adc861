#!/usr/bin/env bash
# The first scrape after a burst of new StatsD series, with the background sorter
# (--storage.sort-ahead=true, the default) and without it. Each round starts a fresh server,
# posts SERIES new counters in one HTTP body (/api/v1/statsd answers once they are stored),
# waits WAIT seconds without scraping, then times two scrapes (text, or gzip with --gzip; curl's time_total). The two
# settings alternate, so the machine's drifts hit both alike. Prints every time and medians.
#   benchmarks/scrape_after_burst.sh [--series=1000000] [--rounds=3] [--wait=3] [--gzip]
# --gzip: the scrapes ask for gzip, as Prometheus does (the time includes compressing).
# Everything binds 127.0.0.1 on free ports; every step is bounded.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
series=1000000; rounds=3; wait_s=3; encoding=identity
for arg in "$@"; do
  case "$arg" in
    --series=*) series="${arg#*=}" ;;
    --rounds=*) rounds="${arg#*=}" ;;
    --wait=*) wait_s="${arg#*=}" ;;
    --gzip) encoding=gzip ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
source "$root/benchmarks/common.sh"
build_bench_tools
install_packages curl

pid=""
body="$(mktemp)"
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -f "$body"; }
trap cleanup EXIT
# Names in no particular order, so the sort has work to do (a permutation: 7919 is prime).
/usr/bin/python3 -c "
import sys
n = $series
sys.stdout.write(''.join(f'burst.m{(i * 7919) % n}.s:1|c\n' for i in range(n)))" >"$body"

declare -A first second
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
scrape_ms() {
  curl -sS -o /dev/null -w '%{time_total}' --max-time 60 -H "Accept-Encoding: $encoding" \
    "http://127.0.0.1:$1/metrics" |
    awk '{printf "%.1f", $1 * 1000}'
}
for ((r = 1; r <= rounds; r++)); do
  for mode in true false; do
    web=$(free_port)
    "$root/build/server/metricsgate" --web.listen-address="127.0.0.1:$web" --statsd.listen-udp= \
      --statsd.listen-tcp= --storage.max-series=$((series + 1000)) --storage.sort-ahead=$mode \
      --log.level=warn &
    pid=$!
    wait_port "$web"
    stored=$(curl -sS --max-time 120 --data-binary @"$body" "http://127.0.0.1:$web/api/v1/statsd" |
      /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["samples"])')
    [ "$stored" = "$series" ] || { echo "stored $stored of $series samples" >&2; exit 1; }
    sleep "$wait_s"
    first[$mode]="${first[$mode]:-} $(scrape_ms "$web")"
    second[$mode]="${second[$mode]:-} $(scrape_ms "$web")"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  done
done
for mode in true false; do
  echo "--storage.sort-ahead=$mode, $series new series, scraped $wait_s s after ($encoding): first scrape ms:${first[$mode]} (median $(echo "${first[$mode]}" | median)); the one after:${second[$mode]} (median $(echo "${second[$mode]}" | median))"
done
