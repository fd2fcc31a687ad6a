#!/usr/bin/env bash
# The README's first command: installs the dependencies, builds fls and runs
# the demo of its main job on local directories (scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${FLS_BUILD_DIR:-build}
source scripts/lib/ccache.sh
# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${FLS_CCACHE_ARGS[@]}" ${FLS_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)" --target fls
bash scripts/demo.sh "$build/fls"
