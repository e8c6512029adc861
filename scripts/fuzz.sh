#!/usr/bin/env bash
# Builds the StatsD parser's libFuzzer target with clang (ASan + UBSan) and runs it.
#   scripts/fuzz.sh            10 minutes
#   scripts/fuzz.sh 60         60 seconds
# Seeds: ingest/fuzz_corpus/ (kept as is); new inputs go to build-fuzz/corpus/. A crash leaves
# its input as build-fuzz/crash-* and makes this script fail.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-600}"
"$root/scripts/install-deps.sh"
for package in clang libclang-rt-14-dev; do  # libFuzzer and the sanitizers' runtime
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    sudo=(); if (( EUID != 0 )); then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      clang libclang-rt-14-dev >/dev/null
    break
  fi
done
build="$root/build-fuzz"
CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMG_FUZZ=ON \
  -DMG_BUILD_TESTS=OFF -DMG_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target statsd_parser_fuzzer -j "$(nproc)"
mkdir -p "$build/corpus"
cd "$build"
exec ./ingest/statsd_parser_fuzzer -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  corpus "$root/ingest/fuzz_corpus"
