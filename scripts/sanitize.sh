#!/usr/bin/env bash
# Builds the whole test suite under sanitizers (FLS_CUDA=OFF, clang) and runs
# it with CTest, each in its own build directory (scripts/lib/sanitizer_build.sh):
#   asan   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan, which
#          also holds the libFuzzer targets that scripts/fuzz.sh runs)
#   tsan   ThreadSanitizer (build-tsan)
# Both run every label but gpu (no GPU under a sanitizer) and slow (the
# crash, fault and soak loops, which run in the plain build).
#   bash scripts/sanitize.sh [asan] [tsan]      (default: both)
# Any sanitizer report fails the test that triggered it (halt_on_error).
# TSan skips the races it reports inside libzmq, which is not instrumented
# (tests/tsan.supp says why); the spawned `fls` processes inherit the options.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/sanitizer_build.sh
kinds=("$@")
((${#kinds[@]})) || kinds=(asan tsan)
jobs=${FLS_JOBS:-2}
for kind in "${kinds[@]}"; do
  case $kind in
    asan | tsan) ;;
    *) echo "usage: $0 [asan] [tsan]" >&2; exit 2 ;;
  esac
  build=${FLS_SANITIZE_BUILD_PREFIX:-build}-$kind
  start=$(date +%s)
  fls_sanitizer_configure "$kind" "$build"
  cmake --build "$build" -j"$jobs"
  built=$(date +%s)
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp} \
    ctest --test-dir "$build" -j"$jobs" -LE 'gpu|slow' --output-on-failure --timeout 900
  echo "sanitize $kind: build $((built - start)) s, tests $(( $(date +%s) - built )) s"
done
