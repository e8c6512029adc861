#!/usr/bin/env bash
# Installs the Debian 12 packages metricsgate needs, and only those that are missing: a second
# run installs nothing and does not touch apt. Called by scripts/run.sh and scripts/test.sh.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also what the tests use (real peers, promtool, pytest)
# The README says why each package is here.
set -euo pipefail

packages=(
  g++ cmake make              # the toolchain
  libboost1.81-dev            # Asio and Beast; Debian's default 1.74 lacks as_tuple, message_generator
  libabsl-dev                 # absl::Status, containers, Mutex
  zlib1g-dev                  # gzip request bodies
  libisal-dev                 # gzip scrape bodies (ISA-L's igzip: twice zlib's speed)
  libsnappy-dev               # snappy-framed push bodies (Content-Encoding: snappy)
  libyaml-cpp-dev             # statsd_exporter mapping files
  libre2-dev                  # regex mapping rules, in Go's (RE2) syntax
  libjemalloc-dev             # the server's allocator: per-thread caches, no arena lock per free
  pkg-config                  # finds RE2
  libgtest-dev libgmock-dev   # unit tests
  libbenchmark-dev            # Google Benchmark
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(
    python3 python3-pytest    # end-to-end tests drive the real binary over real sockets
    python3-statsd            # a real StatsD client library, as users send with it
    python3-prometheus-client # the reference parser of the text format reads our /metrics
    prometheus                # promtool, and the real server that scrapes /metrics in tests
    prometheus-pushgateway    # the real Pushgateway, for the push API's differential test
    graphite-carbon           # carbon-cache and carbon.hashing: Graphite forwarding's real peer
    python3-whisper           # reads back what carbon stored
  )
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if (( ${#missing[@]} > 0 )); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=()
  if (( EUID != 0 )); then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ "${1:-}" == "--test" ]]; then
  # Etsy statsd 0.9.0 (npm), the rollups' reference, runs on node. Checked by command: a
  # machine may have node and npm from elsewhere (NodeSource's nodejs bundles npm and
  # conflicts with Debian's npm package).
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "install-deps: installing nodejs npm" >&2
    sudo=()
    if (( EUID != 0 )); then sudo=(sudo); fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      nodejs npm >/dev/null
  fi
  "$(dirname "${BASH_SOURCE[0]}")/install-etsy-statsd.sh" >/dev/null
fi
