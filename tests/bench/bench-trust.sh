#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Issue 18's figures for a calibrated model: OOD AUROC (fresh phantoms against the out set whose
# recipe is tests/bench/bench-trust.c), ECE before and after temperature scaling, coverage and
# mean size of the 90 % prediction sets, and what the checks and the score add to an ROI.
#
#   tests/bench/bench-trust.sh BUILDDIR [MODEL] [SEED] [PER_CLASS] [OUT_PER_CLASS]
#
# BUILDDIR: a configured build (default _build). MODEL: default, the default model. SEED: the
# in-distribution phantoms (default 31415927; the card's training and calibration seeds are
# refused). PER_CLASS: phantoms per class (default 200: the issue's 1,000). OUT_PER_CLASS: out-set
# bases per class, each in three variants (default 40: 600 crops).
# Other modalities and organs: an MR file made here from a phantom with DCMTK's dcmodify,
# pydicom's CT and MR samples when python3-pydicom is installed, and the public ultrasound
# samples of ../shared/dicom-samples when that folder exists (echo, obstetric, others).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$top/_build}"
model="${2:-$top/data/models/hepascope-phantom-r50.safetensors}"
seed="${3:-31415927}"
per_class="${4:-200}"
out_per_class="${5:-40}"
cli="$build/app/hepascope-cli"

meson compile -C "$build" hepascope-cli bench-trust >/dev/null
read -r train_seed cal_seed < <("$cli" model "$model" --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["card"] or {}
print((c.get("phantoms") or {}).get("seed", ""), 4242)')
for s in "$train_seed" "$cal_seed"; do
  if [[ "$seed" == "$s" ]]; then
    echo "$0: seed $seed was used to train or calibrate the model; pick another" >&2
    exit 2
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
files=()
if command -v dcmodify >/dev/null; then
  "$cli" synth --out "$tmp/base" --per-class 1 --seed 99 >/dev/null
  cp "$tmp/base/hcc-0000.dcm" "$tmp/phantom-as-mr.dcm"
  dcmodify -nb -m "(0008,0060)=MR" "$tmp/phantom-as-mr.dcm"
  files+=("$tmp/phantom-as-mr.dcm")
fi
pyd=/usr/lib/python3/dist-packages/pydicom/data/test_files
for f in CT_small.dcm MR_small.dcm; do
  [[ -f "$pyd/$f" ]] && files+=("$pyd/$f")
done
shared="$top/../shared/dicom-samples"
for f in US-PAL-8-10x-echo.dcm OBXXXX1A.dcm US1_UNCR.dcm examples_ybr_color.dcm YBR_FULL-RLE.dcm \
         JPGLosslessP14SV1_1s_1f_8b.dcm; do
  [[ -f "$shared/$f" ]] && files+=("$shared/$f")
done

echo "load: $(uptime)"
"$build/tests/bench-trust" --model "$model" --seed "$seed" --per-class "$per_class" \
  --out-seed $((seed + 1)) --out-per-class "$out_per_class" "${files[@]}"
echo "load: $(uptime)"
