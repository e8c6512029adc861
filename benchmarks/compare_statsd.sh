#!/usr/bin/env bash
# Runs the identical StatsD UDP load (benchmarks/statsd_load.cc) against a do-nothing receiver
# (recvmmsg and discard: the machine's limit), metricsgate and Etsy statsd 0.9.0 (installed
# from npm into .cache/ on first use) in one run, and prints each loss-free rate (< 0.1% lost)
# and the ratios, plus metricsgate's CPU time per metric at a fixed rate.
#
#   benchmarks/compare_statsd.sh [--duration=2] [--senders=2] [--fixed-rate=3000000]
#
# Loopback only; every server is started on free ports and stopped at the end. Etsy statsd is
# measured twice: with a one-hour flush interval, read through its admin port (its best case:
# no flush ever stalls its event loop), and as users run it, flushing every 10 s to a Graphite
# receiver inside the tool that sums what it flushes (trials of 10 s plus a flush).
# Where Netdata is installed (Debian `netdata`), its StatsD plugin is measured too, alone in a
# netdata started with every other plugin off; it reports no counts the tool can read, so its
# loss is the kernel's drop count on its port (`--check=drops`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration=2
senders=2
fixed_rate=3000000
for arg in "$@"; do
  case "$arg" in
    --duration=*) duration="${arg#*=}" ;;
    --senders=*) senders="${arg#*=}" ;;
    --fixed-rate=*) fixed_rate="${arg#*=}" ;;
    *) echo "usage: $0 [--duration=S] [--senders=N] [--fixed-rate=METRICS_PER_S]" >&2; exit 2 ;;
  esac
done

source "$root/benchmarks/common.sh"
build_bench_tools
command -v npm >/dev/null || { sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd=sudo;
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq nodejs npm >/dev/null; }
load="$root/build/benchmarks/statsd_load"

etsy_dir="$root/.cache/etsy-statsd-0.9.0"
"$root/scripts/install-etsy-statsd.sh" >/dev/null

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
work="$(mktemp -d)"

rate_of() { sed -n 's/^result: loss_free_rate=\([0-9]*\).*/\1/p' "$1"; }
cpu_of() { sed -n 's/^result: .*cpu_ns_per_metric=\([0-9.]*\).*/\1/p' "$1"; }
common=(--find-max --duration="$duration" --senders="$senders")

echo "== recvmmsg-and-discard receiver (the machine's limit)"
"$load" --check=sink --start-rate=1000000 "${common[@]}" | tee "$work/sink"

mg_web=$(free_port); mg_udp=$(free_port)
"$root/build/server/metricsgate" --web.listen-address="127.0.0.1:$mg_web" \
  --statsd.listen-udp="127.0.0.1:$mg_udp" --statsd.listen-tcp= --log.level=warn &
mg_pid=$!; pids+=("$mg_pid")
wait_port "$mg_web"
mg=(--target="127.0.0.1:$mg_udp" --check="prometheus:127.0.0.1:$mg_web" --cpu-pid="$mg_pid")
echo "== metricsgate, counters"
"$load" "${mg[@]}" --start-rate=1000000 "${common[@]}" | tee "$work/mg_counters"
echo "== metricsgate, counters/timers/gauges"
"$load" "${mg[@]}" --mix=mixed --start-rate=500000 "${common[@]}" | tee "$work/mg_mixed"
echo "== metricsgate, CPU per metric at $fixed_rate metrics/s"
"$load" "${mg[@]}" --rate="$fixed_rate" --duration=5 --senders="$senders" | tee "$work/mg_cpu_counters"
"$load" "${mg[@]}" --mix=mixed --rate="$fixed_rate" --duration=5 --senders="$senders" |
  tee "$work/mg_cpu_mixed"

# Starts Etsy statsd on fresh ports with the config keys in $2 (named $1 in $work); sets
# etsy_udp, etsy_admin and etsy_pid.
start_etsy() {
  etsy_udp=$(free_port); etsy_admin=$(free_port)
  cat >"$work/$1.js" <<EOF
{ port: $etsy_udp, address: "127.0.0.1", mgmt_port: $etsy_admin, mgmt_address: "127.0.0.1",
  $2 }
EOF
  node "$etsy_dir/node_modules/statsd/stats.js" "$work/$1.js" >"$work/$1.log" 2>&1 &
  etsy_pid=$!; pids+=("$etsy_pid")
  wait_port "$etsy_admin"
}

start_etsy etsy 'flushInterval: 3600000, backends: []'
etsy=(--target="127.0.0.1:$etsy_udp" --check="etsy:127.0.0.1:$etsy_admin" --cpu-pid="$etsy_pid")
echo "== Etsy statsd 0.9.0, counters"
"$load" "${etsy[@]}" --start-rate=20000 "${common[@]}" | tee "$work/etsy_counters"
echo "== Etsy statsd 0.9.0, counters/timers/gauges"
"$load" "${etsy[@]}" --mix=mixed --start-rate=10000 "${common[@]}" | tee "$work/etsy_mixed"
kill "$etsy_pid"; wait "$etsy_pid" 2>/dev/null || true

carbon=$(free_port)
start_etsy etsy_flush "flushInterval: 10000, backends: [\"./backends/graphite\"],
  graphiteHost: \"127.0.0.1\", graphitePort: $carbon"
echo "== Etsy statsd 0.9.0, counters, flushing every 10 s (its default)"
"$load" --target="127.0.0.1:$etsy_udp" --check="carbon:$carbon" --cpu-pid="$etsy_pid" \
  --find-max --duration=10 --settle=11 --senders="$senders" --start-rate=20000 --steps=4 |
  tee "$work/etsy_flush"

nd="n/a"
if command -v netdata >/dev/null; then
  nd_web=$(free_port); nd_udp=$(free_port); mkdir -p "$work/nd/cache" "$work/nd/lib" "$work/nd/log"
  cat >"$work/nd/netdata.conf" <<EOF
[global]
    run as user = $(id -un)
[db]
    mode = ram
[directories]
    cache = $work/nd/cache
    lib = $work/nd/lib
    log = $work/nd/log
[logs]
    debug log = none
    error log = $work/nd/log/error.log
    access log = none
[web]
    bind to = 127.0.0.1:$nd_web
[ml]
    enabled = no
[health]
    enabled = no
[plugins]
    enable running new plugins = no
    proc = no
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    timex = no
    checks = no
    statsd = yes
[statsd]
    enabled = yes
    bind to = udp:127.0.0.1:$nd_udp
    threads = $(nproc)
EOF
  netdata -D -c "$work/nd/netdata.conf" >"$work/nd/out.log" 2>&1 &
  nd_pid=$!; pids+=("$nd_pid")
  wait_port "$nd_web"
  echo "== Netdata $(netdata -v 2>&1 | head -1), StatsD plugin, counters (loss = kernel drops)"
  "$load" --target="127.0.0.1:$nd_udp" --check=drops --cpu-pid="$nd_pid" --start-rate=500000 \
    "${common[@]}" | tee "$work/netdata"
  "$load" --target="127.0.0.1:$nd_udp" --check=drops --cpu-pid="$nd_pid" --rate="$fixed_rate" \
    --duration=5 --senders="$senders" | tee "$work/netdata_cpu"
  nd=$(rate_of "$work/netdata")
  pkill -P "$nd_pid" 2>/dev/null || true  # its spawn server
  kill "$nd_pid"; wait "$nd_pid" 2>/dev/null || true
fi

sink=$(rate_of "$work/sink")
mgc=$(rate_of "$work/mg_counters"); mgm=$(rate_of "$work/mg_mixed")
ec=$(rate_of "$work/etsy_counters"); em=$(rate_of "$work/etsy_mixed")
ef=$(rate_of "$work/etsy_flush")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.1f", a / b; else print "n/a" }'; }
echo
echo "== summary: loss-free metrics/s, 20 metrics per packet, 10000 names, $senders sender(s)"
printf '%-34s %12s\n' "recvmmsg-and-discard receiver" "$sink"
printf '%-34s %12s   %s of the receiver limit\n' "metricsgate, counters" "$mgc" "$(ratio "$mgc" "$sink")x"
printf '%-34s %12s\n' "Etsy statsd 0.9.0, counters" "$ec"
printf '%-34s %12s\n' "Etsy, counters, 10 s flush" "$ef"
printf '%-34s %12s\n' "Netdata StatsD plugin, counters" "$nd"
printf '%-34s %12s\n' "metricsgate, mixed" "$mgm"
printf '%-34s %12s\n' "Etsy statsd 0.9.0, mixed" "$em"
echo "metricsgate / Etsy, counters: $(ratio "$mgc" "$ec")x (Etsy flushing every 10 s:" \
  "$(ratio "$mgc" "$ef")x); mixed: $(ratio "$mgm" "$em")x"
echo "metricsgate / Netdata, counters: $(ratio "$mgc" "$nd")x"
echo "CPU per metric at $fixed_rate/s: metricsgate counters $(cpu_of "$work/mg_cpu_counters") ns," \
  "mixed $(cpu_of "$work/mg_cpu_mixed") ns; Netdata counters" \
  "$( [ -f "$work/netdata_cpu" ] && cpu_of "$work/netdata_cpu" || echo n/a) ns"
