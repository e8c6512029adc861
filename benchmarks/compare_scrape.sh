#!/usr/bin/env bash
# Issue #6's scrape benchmark: the same 100,000 pushed series (10 groups x 100 families x 100
# series, each with its group's job/group labels and one of its own) stored in metricsgate and
# in Debian's prometheus-pushgateway 1.5.1, then scraped alternately, one at a time, as
# Prometheus would: text 0.0.4, then with gzip. Prints the median and best scrape time of each,
# the body size, and the ratio.
#   benchmarks/compare_scrape.sh [--scrapes=15]
# Everything binds 127.0.0.1; every loop is bounded.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scrapes=15
for arg in "$@"; do
  case "$arg" in
    --scrapes=*) scrapes="${arg#*=}" ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
source "$root/benchmarks/common.sh"
build_bench_tools
install_packages curl prometheus-pushgateway

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# PUTs the 10 groups to 127.0.0.1:$1.
preload() {
  /usr/bin/python3 - "$1" <<'PY'
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=300)
for group in range(10):
    body = "".join(f'# TYPE bench_family_{f} gauge\n' +
                   "".join(f'bench_family_{f}{{series="s{s}"}} {group * 10000 + f * 100 + s}\n'
                           for s in range(100))
                   for f in range(100))
    conn.request("PUT", f"/metrics/job/bench/group/g{group}", body)
    response = conn.getresponse()
    response.read()
    assert response.status in (200, 202), (group, response.status)
PY
}

mg_port=$(free_port)
"$root/build/server/metricsgate" --web.listen-address="127.0.0.1:$mg_port" --statsd.listen-udp= \
  --statsd.listen-tcp= --log.level=warn &
pids+=($!)
pg_port=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$pg_port" --log.level=warn &
pids+=($!)
wait_port "$mg_port"
wait_port "$pg_port"
preload "$mg_port"
preload "$pg_port"

# Scrapes port $1 once with curl's extra arguments $2...; prints "seconds bytes".
scrape() {
  local port=$1
  shift
  curl -sf -o /dev/null -w '%{time_total} %{size_download}\n' "$@" "http://127.0.0.1:$port/metrics"
}

# Checks both hold the 100,000 series (plus their own metrics and push times).
for port in "$mg_port" "$pg_port"; do
  n=$(curl -sf "http://127.0.0.1:$port/metrics" | grep -c '^bench_family_')
  if [[ "$n" != 100000 ]]; then echo "port $port serves $n bench series, not 100000" >&2; exit 1; fi
done

declare -A times bytes
for mode in text gzip; do
  args=()
  if [[ $mode == gzip ]]; then args=(-H 'Accept-Encoding: gzip'); fi
  for server in metricsgate pushgateway; do times[$server.$mode]=""; done
  scrape "$mg_port" "${args[@]}" >/dev/null   # warm-up, not counted
  scrape "$pg_port" "${args[@]}" >/dev/null
  for ((i = 0; i < scrapes; i++)); do
    read -r t b < <(scrape "$mg_port" "${args[@]}")
    times[metricsgate.$mode]+="$t "; bytes[metricsgate.$mode]=$b
    read -r t b < <(scrape "$pg_port" "${args[@]}")
    times[pushgateway.$mode]+="$t "; bytes[pushgateway.$mode]=$b
  done
done

# Prints "median best" in ms of the seconds in $1.
stats() {
  tr ' ' '\n' <<<"$1" | grep . | sort -g |
    awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2;
         printf "%.1f %.1f\n", m * 1000, v[1] * 1000}'
}

echo "100,000 pushed series, $scrapes scrapes each, alternating (ms: median, best)"
printf '%-8s %-12s %10s %8s %12s\n' format server median best bytes
for mode in text gzip; do
  for server in metricsgate pushgateway; do
    read -r median best < <(stats "${times[$server.$mode]}")
    printf '%-8s %-12s %10s %8s %12s\n' "$mode" "$server" "$median" "$best" "${bytes[$server.$mode]}"
    eval "median_${server}_$mode=$median"
  done
  awk -v a="$(eval echo \$median_pushgateway_$mode)" -v b="$(eval echo \$median_metricsgate_$mode)" \
    -v m="$mode" 'BEGIN {printf "%-8s metricsgate is %.1fx faster (median)\n", m, a / b}'
done
