# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: configures a clang
# build directory for one sanitizer, so that the ASan build of the test suite
# and the libFuzzer targets share one directory (one build of the library).
#   fls_sanitizer_configure KIND BUILD_DIR      KIND: asan | tsan
# -O1 with line tables only: the sanitizers' reports keep file:line, and the
# build takes far less time than -O2 -g (docs/RELIABILITY.md).
source "$(dirname "${BASH_SOURCE[0]}")/ccache.sh"
fls_sanitizer_configure() {
  local kind=$1 build=$2 flags extra=()
  case $kind in
    asan)
      flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
      # The libFuzzer targets (fuzz/) build here too; FLS_FUZZ adds coverage
      # instrumentation, which the tests do not notice.
      extra=(-DFLS_FUZZ=ON) ;;
    tsan)
      flags="-fsanitize=thread"
      # The gfni backend is in (a build-tsan configured before 2026-12 has
      # FLS_GFNI=OFF in its cache, from when it was left out: see
      # docs/RELIABILITY.md, "The gfni kernels under ThreadSanitizer").
      extra=(-DFLS_GFNI=ON) ;;
    *) echo "fls_sanitizer_configure: unknown kind $kind" >&2; return 2 ;;
  esac
  cmake -S . -B "$build" -DFLS_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${FLS_CCACHE_ARGS[@]}" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" "${extra[@]}" >/dev/null
}
