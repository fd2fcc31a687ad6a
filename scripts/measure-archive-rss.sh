#!/usr/bin/env bash
# Peak RSS (GNU time -v "Maximum resident set size") and wall time of
# `fls archive`, `fls restore` and a restore with data chunks 0-3 deleted,
# for files of the given sizes (default 1 and 4 GiB), each restore checked with cmp.
#   scripts/measure-archive-rss.sh FLS_BINARY [WORKDIR] [SIZES_GIB...]
set -euo pipefail
FLS=${1:?usage: scripts/measure-archive-rss.sh FLS_BINARY [WORKDIR] [SIZES_GIB...]}
WORK=${2:-./fls-rss}
shift $(( $# >= 2 ? 2 : 1 ))
SIZES=("$@")
[ "$#" -gt 0 ] || SIZES=(1 4)
rm -rf "$WORK"; mkdir -p "$WORK"
T=()
for i in $(seq 0 13); do mkdir -p "$WORK/t$i"; T+=(--target "$WORK/t$i"); done
measure() {  # label command...
  local label=$1; shift
  /usr/bin/time -v "$@" 2> "$WORK/time.txt" >/dev/null || { cat "$WORK/time.txt"; exit 1; }
  printf '%-28s %8.2f s  peak RSS %7d KiB\n' "$label" \
    "$(awk -F': ' '/Elapsed/ {split($2,a,":"); print (length(a)==3? a[1]*3600+a[2]*60+a[3] : a[1]*60+a[2])}' "$WORK/time.txt")" \
    "$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time.txt")"
}
for g in "${SIZES[@]}"; do
  head -c "${g}G" /dev/urandom > "$WORK/in.bin"; sync
  measure "archive ${g} GiB" "$FLS" archive -q "${T[@]}" --name "in$g" "$WORK/in.bin"
  sync; measure "restore ${g} GiB" "$FLS" restore -q "${T[@]}" "in$g" -o "$WORK/out.bin"
  cmp "$WORK/in.bin" "$WORK/out.bin"; rm -f "$WORK/out.bin"
  for i in 0 1 2 3; do rm -f "$WORK"/t$i/*.chunk; done
  sync; measure "restore ${g} GiB, 4 lost" "$FLS" restore -q "${T[@]}" "in$g" -o "$WORK/out.bin"
  cmp "$WORK/in.bin" "$WORK/out.bin"
  rm -f "$WORK/out.bin" "$WORK/in.bin" "$WORK"/t*/*
done
rm -rf "$WORK"
