#!/usr/bin/env bash
# The fls demo: archive a sample file on 14 local targets, lose 4 chunks,
# restore it bit-exact, repair, verify. Builds nothing: pass the fls binary.
#   scripts/demo.sh build/fls [WORKDIR]     (WORKDIR defaults to ./.fls-demo)
set -euo pipefail
FLS=${1:?usage: scripts/demo.sh FLS_BINARY [WORKDIR]}
FLS=$(cd "$(dirname "$FLS")" && pwd)/$(basename "$FLS")
DEMO=${2:-./.fls-demo}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "fresh store of 14 target directories under $DEMO (one failure domain each)"
rm -rf "$DEMO"
mkdir -p "$DEMO/store"
echo "targets:" > "$DEMO/store/fls-store.yaml"
for i in $(seq 0 13); do
  mkdir -p "$DEMO/store/t$i"
  printf '  - path: t%d\n    domain: disk%d\n' "$i" "$i" >> "$DEMO/store/fls-store.yaml"
done
cat "$DEMO/store/fls-store.yaml" | head -5; echo "  ..."

step "sample file: 64 MiB + 12345 bytes of random data"
head -c $((64 * 1024 * 1024 + 12345)) /dev/urandom > "$DEMO/sample.bin"
ls -l "$DEMO/sample.bin"

step "fls archive (defaults: 10 data + 4 parity chunks, 10 MiB stripes)"
"$FLS" archive "$DEMO/store" "$DEMO/sample.bin"

step "fls info"
"$FLS" info "$DEMO/store" sample.bin

step "lose 4 chunks: delete data chunks 0 and 5, parity chunks 10 and 13"
for i in 0 5 10 13; do
  path=$("$FLS" info "$DEMO/store" sample.bin --json |
         python3 -c "import json,sys; print(json.load(sys.stdin)['chunks'][$i]['path'])")
  echo "rm $path"
  rm "$path"
done

step "fls verify (exit code 4 = degraded)"
rc=0; "$FLS" verify "$DEMO/store" || rc=$?
echo "exit code $rc"
[ "$rc" -eq 4 ]

step "fls restore from the 10 chunks left"
"$FLS" restore "$DEMO/store" sample.bin -o "$DEMO/restored.bin"

step "cmp original restored"
cmp "$DEMO/sample.bin" "$DEMO/restored.bin" && echo "identical: $(stat -c %s "$DEMO/restored.bin") bytes"

step "fls repair, then fls verify --deep"
"$FLS" repair "$DEMO/store"
"$FLS" verify --deep "$DEMO/store"

step "done: the store is in $DEMO/store"

step "the job service: fls serve on config/fls.yaml, a submit, a restore (scripts/service-demo.sh)"
bash "$(dirname "$0")/service-demo.sh" "$FLS"
