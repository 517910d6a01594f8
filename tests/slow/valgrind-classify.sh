#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# hepascope-cli classify under valgrind memcheck: no invalid read or write, no use of
# uninitialized memory, no definite leak, on a PNG and on a DICOM (the DCMTK path), with the
# CAM written too. TAP; skipped where valgrind is not installed.
#   valgrind-classify.sh HEPASCOPE_CLI MAKE_UI_FIXTURES DICOM
set -u
cli=$1 fixtures=$2 dicom=$3
echo "TAP version 13"
if ! command -v valgrind >/dev/null; then
  echo "1..0 # SKIP valgrind is not installed"
  exit 0
fi
echo "1..2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$fixtures" "$tmp" >/dev/null
n=0
for input in "$tmp/phantom-cyst.png" "$dicom"; do
  n=$((n + 1))
  if HEPASCOPE_THREADS=1 OPENBLAS_NUM_THREADS=1 valgrind -q --error-exitcode=99 --leak-check=full \
       --errors-for-leak-kinds=definite --show-leak-kinds=definite \
       "$cli" classify "$input" --model "$tmp/random-model.safetensors" --roi 100,100,80,80 \
       --json --cam "$tmp/cam-$n.png" >"$tmp/out-$n.json" 2>"$tmp/vg-$n.log" &&
     grep -q '"probabilities"' "$tmp/out-$n.json" && [[ -s "$tmp/cam-$n.png" ]]; then
    echo "ok $n - valgrind-clean classify of $(basename "$input")"
  else
    echo "not ok $n - classify of $(basename "$input") under valgrind"
    sed 's/^/# /' "$tmp/vg-$n.log" | tail -40
  fi
done
