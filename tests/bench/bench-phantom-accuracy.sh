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

if [[ -z "$model" ]]; then
  model="$(python3 - "$(dirname "$0")/../.." <<'PY'
import glob, os, sys
env = os.environ.get("HEPASCOPE_MODEL")
found = [env] if env else sorted(glob.glob(os.path.join(sys.argv[1], "data", "models", "*.safetensors")))
print(found[0] if found else "")
PY
)"
  [[ -n "$model" ]] || { echo "$0: no model given and none in data/models" >&2; exit 2; }
fi
[[ -f "$model" ]] || { echo "$0: $model: no such model file" >&2; exit 2; }

# The card's training seed, if it says one.
train_seed="$(python3 - "$model" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
card = json.loads(header.get("__metadata__", {}).get("hepascope.card", "{}"))
print(card.get("phantoms", {}).get("seed", ""))
PY
)"
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
