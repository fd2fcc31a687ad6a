#!/usr/bin/env bash
# Installs the dependencies, builds fls (CUDA too when nvcc is found) and runs
# every test suite. The README's test command and CI's (.ci/run) are this.
# Extra CMake arguments: FLS_CMAKE_ARGS="-DFLS_CUDA=OFF" bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${FLS_BUILD_DIR:-build}
source scripts/lib/ccache.sh
# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${FLS_CCACHE_ARGS[@]}" ${FLS_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
# Skipped tests (the gpu label on a host without a GPU) and why.
log="$build/Testing/Temporary/LastTest.log"
if [ -f "$log" ] && grep -q 'Skipped$' "$log"; then
  echo "Skipped tests and their reasons:"
  awk '/^[0-9]+\/[0-9]+ Test: /{name=$3} /: Skipped$/{getline why; print "  " name ": " why}' "$log" | sort -u
fi
