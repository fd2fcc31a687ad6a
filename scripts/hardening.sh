#!/usr/bin/env bash
# The hardening run of issue 6 (docs/RELIABILITY.md): libFuzzer targets,
# sanitizer builds of the test suite, and the crash and fault loops. Each part
# prints its wall time; the total comes last.
#   bash scripts/hardening.sh [FUZZ_SECONDS_PER_TARGET=60]
# Parts can be skipped: FLS_HARDENING_SKIP="fuzz asan tsan loops".
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
skip=" ${FLS_HARDENING_SKIP:-} "
bash scripts/install-deps.sh
t_all=$(date +%s)
times=()
part() {  # part NAME COMMAND...
  local name=$1
  shift
  if [[ $skip == *" $name "* ]]; then
    times+=("$name: skipped")
    return
  fi
  local t0
  t0=$(date +%s)
  echo "=== hardening: $name"
  "$@"
  times+=("$name: $(($(date +%s) - t0)) s")
}
loops() {
  local build=${FLS_BUILD_DIR:-build}
  cmake -S . -B "$build" -DFLS_CUDA=OFF >/dev/null
  cmake --build "$build" -j"${FLS_JOBS:-2}" --target fls crash_loop_test syscall_fault_test \
    service_slow_test
  # Crash loops of the CLI, syscall faults (libfiu) and the service's kill -9
  # test, with their counts (the lines docs/RELIABILITY.md is made from).
  "$build/tests/crash_loop_test" | grep -E '^(crash-loop|\[  )'
  "$build/tests/syscall_fault_test" | grep -E '^(fault-loop|\[  )'
  "$build/tests/service_slow_test" --gtest_filter='*Kill*' | grep -E '^\[  '
}
# asan first: it builds build-asan, where the fuzz targets are built too.
part asan bash scripts/sanitize.sh asan
part fuzz bash scripts/fuzz.sh "$secs"
part tsan bash scripts/sanitize.sh tsan
part loops loops
echo "=== hardening: done"
printf '  %s\n' "${times[@]}"
echo "  total: $(($(date +%s) - t_all)) s"
