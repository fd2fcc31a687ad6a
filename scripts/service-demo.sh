#!/usr/bin/env bash
# Demo of the job service: start `fls serve` on its embedded default config
# (config/fls.yaml: 14 local targets and the journal under ./.fls-data,
# loopback only), submit an archive job of 300 small files and one larger
# file, watch it finish, restore everything through another job, compare,
# then stop the service. Run from the checkout:
#   scripts/service-demo.sh build/fls
set -euo pipefail
FLS=${1:?usage: scripts/service-demo.sh FLS_BINARY}
FLS=$(cd "$(dirname "$FLS")" && pwd)/$(basename "$FLS")
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "fls serve --config config/fls.yaml (fresh ./.fls-data)"
rm -rf .fls-data
mkdir -p .fls-data
"$FLS" serve --config config/fls.yaml > .fls-data/serve.log 2>&1 &
SERVE=$!
trap 'kill "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$FLS" ping --timeout-ms 200 > /dev/null 2>&1 && break; sleep 0.1; done
"$FLS" ping

step "sample: 300 small files (1-64 KiB) and one 24 MiB file under .fls-data/sample"
mkdir -p .fls-data/sample/small
for i in $(seq 300); do head -c $(( (RANDOM % 64 + 1) * 1024 )) /dev/urandom > .fls-data/sample/small/f$i; done
head -c $((24 * 1024 * 1024)) /dev/urandom > .fls-data/sample/large.bin

step "fls submit archive .fls-data/sample --wait (small files go into packs)"
"$FLS" submit archive .fls-data/sample --wait

step "fls jobs; fls stats"
"$FLS" jobs
"$FLS" stats

step "fls submit restore (every object of the sample) into .fls-data/restored/demo"
names=$(cd .fls-data/sample && find "$PWD" -type f | sed 's|^/||')
# shellcheck disable=SC2086
"$FLS" submit restore $names -o .fls-data/restored/demo --wait

step "compare"
diff -r .fls-data/sample ".fls-data/restored/demo$PWD/.fls-data/sample" && echo "identical: $(find .fls-data/sample -type f | wc -l) files"

step "stop the service (SIGTERM)"
kill "$SERVE"; wait "$SERVE" || true; trap - EXIT
tail -3 .fls-data/serve.log
