#!/usr/bin/env bash
# CI's second compiler for the codec: builds the codec test suites with clang
# (Release, FLS_CUDA=OFF) and runs them, then checks that no gfni kernel
# object holds an affine instruction with a broadcast memory operand (LLVM
# before 20 encodes it wrongly: docs/RELIABILITY.md). scripts/test.sh has
# built and run everything with GCC; only these targets are built here, to
# keep CI short. The gfni cases skip, with the reason, on a CPU without GFNI.
#   bash scripts/clang-codec.sh          (directory: FLS_CLANG_BUILD_DIR, default build-clang)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FLS_CLANG_BUILD_DIR:-build-clang}
start=$(date +%s)
source scripts/lib/ccache.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLS_CUDA=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${FLS_CCACHE_ARGS[@]}" >/dev/null
tests=(gf_matrix_test codec_test backend_conformance_test cuda_kernel_test backend_self_test_test)
# The gfni backend is built wherever the compiler targets x86-64 (clang 14 has
# every flag it needs), so its suite must be here too.
[ "$(uname -m)" = x86_64 ] && tests+=(gfni_backend_test)
cmake --build "$build" -j"${FLS_JOBS:-$(nproc)}" --target "${tests[@]}"
built=$(date +%s)
for t in "${tests[@]}"; do
  echo "=== clang: $t"
  "$build/tests/$t" --gtest_brief=1
done
if [ "$(uname -m)" = x86_64 ]; then
  ctest --test-dir "$build" -R '^gfni_kernel_objects$' --output-on-failure
fi
echo "clang codec tests: build $((built - start)) s, tests $(($(date +%s) - built)) s"
