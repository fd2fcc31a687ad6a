#!/usr/bin/env bash
# Fails when any GF2P8AFFINEQB / GF2P8AFFINEINVQB in the given object files
# takes a broadcast memory operand ({1to4}, {1to8}). LLVM before 20 encodes
# that operand's compressed 8-bit displacement with the wrong scale
# (llvm-project PR 120340): a clang-built kernel then reads its coefficient
# matrix from the wrong address and writes wrong parity. The kernels keep
# their operands in registers under every compiler (Operand() in
# fallback/gfni_kernels_avx*.cc); this check is what keeps them so.
# Registered with CTest (label unit) by tests/CMakeLists.txt.
#   check_gfni_objects.sh OBJDUMP OBJECT...
set -euo pipefail
if (($# < 2)); then
  echo "usage: $0 OBJDUMP OBJECT..." >&2
  exit 2
fi
objdump=$1
shift
status=0
for obj in "$@"; do
  if [ ! -f "$obj" ]; then
    echo "FAIL $obj: no such object file" >&2
    status=1
    continue
  fi
  # Each affine instruction as "function: instruction"; the broadcast ones
  # are those with {1to in their operands.
  affine=$("$objdump" -d --no-show-raw-insn -C "$obj" |
    awk '/^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn) }
         /vgf2p8affine(inv)?qb/ { sub(/^[ \t]+/, ""); print fn ": " $0 }')
  total=$(grep -c . <<<"$affine" || true)
  if ((total == 0)); then
    # Guards against a check that passes by seeing nothing: a wrong file, or
    # an objdump that does not decode GFNI.
    echo "FAIL $obj: no vgf2p8affineqb instruction found (not a gfni kernel object, or $objdump cannot decode GFNI)" >&2
    status=1
    continue
  fi
  bad=$(grep -F '{1to' <<<"$affine" || true)
  if [ -n "$bad" ]; then
    echo "FAIL $obj: $(grep -c . <<<"$bad") of $total affine instructions take a broadcast memory operand; LLVM < 20 encodes it wrongly (llvm-project PR 120340). The first ones:" >&2
    head -n 5 <<<"$bad" | cut -c1-300 >&2
    status=1
  else
    echo "ok   $obj: $total affine instructions, none with a broadcast memory operand"
  fi
done
exit $status
