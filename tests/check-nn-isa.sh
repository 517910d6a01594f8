#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A CPU without AVX2 must never meet an AVX instruction outside the kernels picked at run time:
# disassembles every object of the static libraries given and fails on any instruction that uses
# VEX or EVEX encoding (v-prefixed SSE/AVX mnemonics, ymm/zmm registers). The AVX2 and AVX-512
# copies of hepa-nn-kernels.c (objects under libhepa-nn-kernels-avx*.a.p/, which the thin archive
# libhepa-nn.a names by path) are left out; the baseline copy is checked. TAP output.
#   check-nn-isa.sh LIB.a...
set -u
command -v objdump >/dev/null 2>&1 || { echo "1..0 # SKIP objdump is not installed"; exit 0; }
n=0
bad=0
for lib in "$@"; do
  n=$((n + 1))
  if [ ! -s "$lib" ]; then
    echo "not ok $n - $lib: missing"
    bad=1
    continue
  fi
  hits=$(objdump -d --no-show-raw-insn "$lib" 2>/dev/null | awk '
    / file format / { member = $1; sub(/:$/, "", member); next }
    member ~ /kernels-avx[0-9]*\.a\.p\// { next }
    /\t(v[a-z0-9]+)[ \t]/ || /%[yz]mm[0-9]/ { print member ": " $0; if (++shown == 5) exit }')
  if [ -n "$hits" ]; then
    echo "not ok $n - $(basename "$lib") holds AVX code outside the dispatched kernels:"
    echo "$hits" | sed 's/^/# /'
    bad=1
  else
    echo "ok $n - $(basename "$lib"): x86-64 baseline only outside the dispatched kernels"
  fi
done
echo "1..$n"
exit $bad
