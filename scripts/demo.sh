#!/usr/bin/env bash
# Demo of the engine: which backends this host has, then a short codec benchmark.
set -euo pipefail
fls=${1:-build/fls}
"$fls" version
"$fls" bench codec --shape 10+4 --block 1M --threads 1 --min-seconds 0.2
