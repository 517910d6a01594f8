#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# How well a model classifies phantoms it has never seen: generates a fresh phantom test set with
# a seed the model was not trained on, exports the ground-truth ROIs as the model preprocesses
# them, and prints accuracy, per-class sensitivity and specificity and the confusion matrix,
# then the issue's targets (accuracy >= 95%, every sensitivity >= 90%).
#
#   tests/bench/bench-phantom-accuracy.sh CLI [MODEL] [SEED] [PER_CLASS]
#
# CLI: the built hepascope-cli. MODEL: default, the default model. SEED: default, a random one
# (printed, so the run can be repeated); the training seed from the card's "phantoms" is refused.
# PER_CLASS: images per class (default 100). Synthetic phantoms only: these figures say nothing
# about patient images.
set -euo pipefail

cli="${1:?usage: $0 CLI [MODEL] [SEED] [PER_CLASS]}"
model="${2:-}"
seed="${3:-}"
per_class="${4:-100}"

# The model the other commands would use when none is given, and the card's training seed.
model_json="$("$cli" model --json ${model:+"$model"})" || exit 2
{ read -r train_seed; read -r model; } < <(python3 -c '
import json, sys
d = json.load(sys.stdin)
print(((d.get("card") or {}).get("phantoms") or {}).get("seed", ""))
print(d["path"])' <<<"$model_json")
if [[ -z "$seed" ]]; then
  seed=$(( $(od -An -N4 -tu4 /dev/urandom) % 2000000000 + 1 ))
  [[ "$seed" != "$train_seed" ]] || seed=$(( seed + 1 ))
fi
if [[ -n "$train_seed" && "$seed" == "$train_seed" ]]; then
  echo "$0: seed $seed is the one the model was trained on (its card says so); pick another" >&2
  exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "model: $model"
echo "fresh phantoms: seed $seed (training seed: ${train_seed:-not on the card}), $per_class per class"
"$cli" synth --out "$tmp/phantoms" --per-class "$per_class" --seed "$seed" >/dev/null
"$cli" export "$tmp/phantoms" --out "$tmp/tree" --model "$model" --no-frames >/dev/null
"$cli" eval --model "$model" --data "$tmp/tree" --report "$tmp/report"
python3 - "$tmp/report/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
acc = r["accuracy"]
sens = {c: r["per_class"][c]["sensitivity"] for c in r["classes"]}
worst = min(sens, key=sens.get)
ok = acc >= 0.95 and sens[worst] >= 0.90
print(f"target: accuracy >= 95% and every sensitivity >= 90%: accuracy {100 * acc:.1f}%, "
      f"lowest sensitivity {100 * sens[worst]:.1f}% ({worst}): {'met' if ok else 'MISSED'}")
PY
