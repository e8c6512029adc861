#!/usr/bin/env bash
# Installs what is missing, builds everything (warnings are errors when CI is set), and runs
# the whole test suite: unit tests and end-to-end tests against the real binary, then the
# concurrency tests again under ThreadSanitizer (scripts/tsan.sh). Exits non-zero when any
# test fails or TSan reports anything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh" --test
werror=OFF
if [[ -n "${CI:-}" ]]; then werror=ON; fi
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMG_WERROR="$werror" >/dev/null
cmake --build "$root/build" -j "$(nproc)"
(cd "$root/build" && ctest --output-on-failure --timeout 300 -j "$(nproc)")
"$root/scripts/tsan.sh"
