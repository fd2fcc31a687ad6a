#!/usr/bin/env bash
# Builds tests/data/v1-store/: a small store in on-disk format version 1, made
# by the v1 code itself (commit 3d986e7, the last commit before layout v2),
# so that v2 readers and `fls upgrade` are tested against what v1 really wrote.
#   bash make-fixture.sh FLS_V1_BINARY
# The store is made under /tmp/fls-v1-fixture (the absolute target paths in v1
# manifests name it) and copied here; tests copy it elsewhere, so the paths in
# the manifests never exist where the tests read it.
set -euo pipefail
fls=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=/tmp/fls-v1-fixture
rm -rf "$work"; mkdir -p "$work/src" "$work/packed"
for i in $(seq -w 0 13); do mkdir -p "$work/t$i"; done
python3 - "$work" <<'PY'
import random, sys
w = sys.argv[1]
r = random.Random(20261202)
def put(path, n):
    with open(path, 'wb') as f:
        f.write(bytes(r.getrandbits(8) for _ in range(n)))
put(f'{w}/src/empty', 0)
put(f'{w}/src/small.bin', 1000)           # smaller than one stripe
put(f'{w}/src/multi.bin', 100000)         # 3 stripes, the last one short
put(f'{w}/src/exact.bin', 81920)          # exactly 2 stripes
put(f'{w}/src/vandermonde.bin', 10000)
put(f'{w}/src/k6m3.bin', 5000)
for n, size in (('a.txt', 300), ('b.txt', 7000), ('c.txt', 1)):
    put(f'{w}/packed/{n}', size)
PY
{
  echo "targets:"
  for i in $(seq -w 0 13); do echo "  - {path: t$i, domain: d$i}"; done
} >"$work/fls-store.yaml"
S="$work/fls-store.yaml"
"$fls" archive "$S" --stripe 40K "$work/src/empty" "$work/src/small.bin" "$work/src/multi.bin" \
  "$work/src/exact.bin"
"$fls" archive "$S" --stripe 40K --matrix vandermonde "$work/src/vandermonde.bin"
"$fls" archive "$S" --stripe 40K -k 6 -m 3 "$work/src/k6m3.bin"
# A pack with three members, made by the service as v1 users' packs were.
cat >"$work/fls.yaml" <<YAML
service:
  client_endpoint: tcp://127.0.0.1:35555
  worker_endpoint: tcp://127.0.0.1:35556
  event_endpoint: tcp://127.0.0.1:35557
  in_process_workers: 1
  journal: $work/journal.sqlite
store:
  targets:
$(for i in $(seq -w 0 13); do echo "    - {path: $work/t$i, domain: d$i}"; done)
  k: 10
  m: 4
  stripe: 40K
roots:
  source: [$work/packed]
  output: [$work]
YAML
"$fls" serve --config "$work/fls.yaml" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do "$fls" ping --endpoint tcp://127.0.0.1:35555 >/dev/null 2>&1 && break; sleep 0.2; done
"$fls" submit archive --endpoint tcp://127.0.0.1:35555 --wait "$work/packed/a.txt" \
  "$work/packed/b.txt" "$work/packed/c.txt"
kill $pid; wait $pid || true; trap - EXIT
rm -rf "${here:?}"/t?? "$here/src" "$here/packed"
cp -a "$work"/t?? "$work/src" "$work/packed" "$here/"
for i in $(seq -w 0 13); do rm -f "$here/t$i/.fls-"* 2>/dev/null || true; done
{
  echo "targets:"
  for i in $(seq -w 0 13); do echo "  - {path: t$i, domain: d$i}"; done
} >"$here/fls-store.yaml"
"$fls" ls "$here/fls-store.yaml"
