#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rebuilds the default model, data/models/hepascope-phantom-r50.safetensors, from nothing but
# Hepascope itself: synthetic phantoms -> export of their ground-truth ROIs -> ResNet50 from
# scratch on all of them (the shipped model) and, with the same protocol, 5-fold cross-validation
# grouped by patient (the card's figures) -> F16 safetensors with the card. About 95 minutes on
# a 2-core machine (1 for phantoms and export, 16 for the model, 77 for the folds), then a few
# minutes for the calibration pass: 1,000 fresh phantoms of CAL_SEED give the card its
# out-of-distribution reference, temperature, 90 % conformal threshold and training ROI sizes
# (hepascope-cli calibrate; only the card changes).
#
#   build-aux/train-default-model.sh [BUILDDIR] [WORKDIR]
#
# BUILDDIR: a configured build (default _build); WORKDIR: where phantoms, the export tree, the
# F32 models and the training reports go (default _model-work). Folds, order and augmentation are
# seeded, so the figures repeat up to the rounding of parallel sums.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$top/_build}"
work="${2:-$top/_model-work}"
cli="$build/app/hepascope-cli"

# The recipe. The card records every value (and the fresh-phantom benchmark refuses SEED).
SEED=20261127
PER_CLASS=200
CLASSES=non_fll,cyst,hemangioma,ffs,hcc
TRAIN_ARGS=(--arch resnet50 --init scratch --size 64 --epochs 30 --batch 32 --lr 0.05 --cosine
            --warmup 1 --seed 7)
OUT="$top/data/models/hepascope-phantom-r50.safetensors"
# Calibration: phantoms of a seed used for nothing else (bench-trust.sh refuses it too).
CAL_SEED=4242
CAL_PER_CLASS=200
INTENDED_USE="trained on synthetic phantoms only; for teaching and software testing, not for diagnosis"

meson compile -C "$build" hepascope-cli
mkdir -p "$work/config"
# Export file names are pseudonyms keyed per installation; a key fixed by the recipe gives every
# machine the same names, hence the same folds and batch order.
export HEPASCOPE_CONFIG_DIR="$work/config"
printf '%s\n' "$(printf 'hepascope-default-model-%s' "$SEED" | sha256sum | cut -c1-64)" \
  >"$work/config/pseudonym.key"
"$cli" synth --out "$work/phantoms" --per-class "$PER_CLASS" --seed "$SEED"
"$cli" export "$work/phantoms" --out "$work/tree" --classes "$CLASSES" --size 224 --no-frames --force
# The shipped model: all 1,000 images.
"$cli" train --data "$work/tree" --out "$work/model-f32.safetensors" --report "$work/report" \
  --folds 1 "${TRAIN_ARGS[@]}"
# Its figures: the same protocol on 5 folds grouped by patient (each fold's model is dropped).
"$cli" train --data "$work/tree" --out "$work/cv-last-fold.safetensors" --report "$work/cv-report" \
  --folds 5 --no-final "${TRAIN_ARGS[@]}"

python3 - "$work/card-extra.json" "$SEED" "$PER_CLASS" "${TRAIN_ARGS[*]}" \
  "$work/cv-report/report.json" <<'PY'
import json, sys
path, seed, per_class, args, cv_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
cv = json.load(open(cv_path))
json.dump({
    "name": "hepascope-phantom-r50",
    "description": "ResNet50 trained from scratch by Hepascope's own trainer on Hepascope's "
                   "synthetic B-mode liver phantoms. It has never seen a patient image and no "
                   "ImageNet weights were used.",
    "phantoms": {"generator": "hepascope-cli synth", "seed": seed, "per_class": per_class,
                 "rois": "the ground-truth ROI of each phantom: the lesion with a rim of liver "
                         "(non_fll: a box of parenchyma)"},
    "reproduce": "build-aux/train-default-model.sh (train arguments: " + args + ")",
    "metrics": {
        "cross_validation": cv["card"]["metrics"]["cross_validation"],
        "folds": cv["card"]["metrics"]["folds"],
        "how": "5-fold cross-validation grouped by patient with the same data and protocol; "
               "the shipped model is trained on all the data",
    },
    "protocol": cv["card"]["protocol"],
    "warnings": cv["card"]["warnings"] + [
        "Trained and cross-validated on synthetic phantoms only: its figures say nothing about "
        "ultrasound images of patients, and it must not be used on them for any decision.",
        "Input 64 x 64: the ROI is shrunk to 64 x 64 pixels, so fine texture is lost.",
        "The phantom HCCs it learned from are all darker than the liver around them (the "
        "generator sets an HCC at least 6.5 dB under the liver): iso-echoic HCC, not rare in "
        "patients, is outside what it learned.",
        "Draw the ROI around the whole lesion with a rim of surrounding liver, as its training "
        "ROIs were; a box inside a lesion or far larger than it is outside what it learned.",
    ],
}, open(path, "w"), indent=2)
PY
"$cli" convert "$work/model-f32.safetensors" "$OUT" --dtype f16 --card-extra "$work/card-extra.json"
# Calibration pass: the crops exported as the model preprocesses them, half fit the OOD reference,
# half give its thresholds, the temperature and the conformal threshold.
"$cli" synth --out "$work/cal-phantoms" --per-class "$CAL_PER_CLASS" --seed "$CAL_SEED"
"$cli" export "$work/cal-phantoms" --out "$work/cal-tree" --model "$OUT" --no-frames --force
"$cli" calibrate --model "$OUT" --data "$work/cal-tree" --out "$OUT" --report "$work/cal-report" \
  --intended-use "$INTENDED_USE"
(cd "$(dirname "$OUT")" && sha256sum "$(basename "$OUT")" >"$(basename "$OUT").sha256")
echo "Wrote $OUT ($(du -h "$OUT" | cut -f1)); report in $work/report"
