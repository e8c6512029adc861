#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each in turn:
#   statsd_parser_fuzzer  a StatsD packet through the parser and the whole ingester
#   push_body_fuzzer      a push body (text or protobuf) through the parser, the push store and
#                         its persistence image; or any bytes as an image
#   push_path_fuzzer      a push path (grouping key) and a label selector
#   scripts/fuzz.sh              10 minutes each
#   scripts/fuzz.sh 60           60 seconds each
#   scripts/fuzz.sh 60 push_path_fuzzer
# Seeds: ingest/fuzz_corpus*/ (kept as is); new inputs go to build-fuzz/corpus-<target>/. A
# crash leaves its input as build-fuzz/crash-* and makes this script fail.
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
shift || true
targets=("$@")
if (( ${#targets[@]} == 0 )); then
  targets=(statsd_parser_fuzzer push_body_fuzzer push_path_fuzzer)
fi
cmake --build "$build" --target "${targets[@]}" -j "$(nproc)"
cd "$build"
for target in "${targets[@]}"; do
  case "$target" in
    statsd_parser_fuzzer) seeds="$root/ingest/fuzz_corpus" ;;
    push_body_fuzzer) seeds="$root/ingest/fuzz_corpus_push" ;;
    push_path_fuzzer) seeds="$root/ingest/fuzz_corpus_path" ;;
    *) echo "unknown fuzz target $target" >&2; exit 2 ;;
  esac
  mkdir -p "corpus-$target"
  echo "== $target, $seconds s"
  "./ingest/$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    "corpus-$target" "$seeds"
done
