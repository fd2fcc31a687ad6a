#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan + UBSan) in the ASan
# build directory that scripts/sanitize.sh uses (build-asan: run after it,
# nothing is compiled twice) and runs each against its seed corpus for a
# bounded time, FLS_JOBS (default 2) targets at once.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
# New inputs found go to $FLS_FUZZ_BUILD_DIR/corpus/<target> (the committed
# seeds in fuzz/corpus/ are only read). A crash fails the script, with the
# crashing input saved as $FLS_FUZZ_BUILD_DIR/crash-<target>-*; turn it into a
# regression test in tests/ before fixing the parser.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
source scripts/lib/sanitizer_build.sh
build=${FLS_FUZZ_BUILD_DIR:-${FLS_SANITIZE_BUILD_PREFIX:-build}-asan}
all=(chunk_header_fuzz manifest_fuzz store_config_fuzz service_config_fuzz protocol_fuzz
     pack_index_fuzz)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
jobs=${FLS_JOBS:-2}

# Configured once: a second `cmake` run over the same directory moves the
# -isystem flag from libzmq's pkg-config data to another place in the flags,
# which would rebuild fls_service and every target on it (CMake 3.25).
if ! grep -qs '^FLS_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
  fls_sanitizer_configure asan "$build"
fi
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target: runs it for $secs and prints its result line; non-zero on a crash.
fuzz_one() {
  local t=$1 name=${1%_fuzz} start runs cov
  local seeds=fuzz/corpus/$name work=$build/corpus/$name
  mkdir -p "$work"
  local dict=()
  [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
  start=$(date +%s)
  if ! "$build/fuzz/$t" "$work" "$seeds" "${dict[@]}" -max_total_time="$secs" -max_len=65536 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$build/crash-$t-" \
    2>"$build/$t.log"; then
    echo "FAIL: $t found a crash; log: $build/$t.log"
    tail -n 60 "$build/$t.log"
    return 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/$t.log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$build/$t.log" | tail -1 || true)
  echo "== $t: ok, $runs inputs in $(( $(date +%s) - start ))s from $(ls "$seeds" | wc -l) seeds," \
    "$cov, corpus $(ls "$work" | wc -l) files"
}

# $jobs targets at a time, each on its own core for the full $secs.
failed=0
running=0
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
exit $failed
