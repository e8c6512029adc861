#!/usr/bin/env bash
# Builds the unit tests with ThreadSanitizer (g++ 12, -fsanitize=thread) into build-tsan/ and
# runs the ones with concurrent code: the store (epoch reclamation, lock-free index, expiry),
# the ingester (per-thread series caches against concurrent expiry), the UDP receive threads
# (a lead and helpers handing sockets over) and the Graphite forwarder (flush thread, sender,
# metrics readers). Fails on any report.
#
# The store synchronises only through std::atomic and std::mutex, which TSan sees; Debian's
# abseil is not built with TSan, so nothing on these paths may rely on absl::Mutex.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-tsan"
"$root/scripts/install-deps.sh" --test
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMG_TSAN=ON \
  -DMG_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target storage_test ingest_test server_test -j "$(nproc)"
export TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1"
# Kernels with 32 bits of mmap randomness place memory where g++ 12's TSan cannot run; setarch
# -R turns randomisation off for the test process only.
run() { setarch "$(uname -m)" -R "$@"; }
run "$build/storage/storage_test" --gtest_brief=1
run "$build/ingest/ingest_test" --gtest_brief=1 --gtest_filter='*Concurrency*:*Ttl*:*Cache*:StatsdIngesterTest.*'
# The UDP receive threads: the lead, helpers taking sockets over and handing them back; the
# Graphite forwarder's flush thread, sender and metrics readers.
run "$build/server/server_test" --gtest_brief=1 --gtest_filter='StatsdDatagramListenerTest.*:GraphiteForwarderTest.*'
echo "ThreadSanitizer: no report"
