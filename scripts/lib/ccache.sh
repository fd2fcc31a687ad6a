# Sourced by the build scripts (test.sh, quickstart.sh, sanitizer_build.sh,
# clang builds): when ccache is installed, every compiler runs through it.
# CI runs on the same machine landing after landing, so a warm cache turns
# most of its five builds into cache hits. Paths are hashed relative to the
# checkout (base_dir) and without the working directory, so a fresh clone at
# another path hits the entries an earlier clone wrote.
#   cmake ... "${FLS_CCACHE_ARGS[@]}"
FLS_CCACHE_ARGS=()
if command -v ccache >/dev/null 2>&1 && [ -z "${FLS_NO_CCACHE:-}" ]; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
  FLS_CCACHE_ARGS=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
                   -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
