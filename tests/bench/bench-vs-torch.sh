#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `hepascope-cli bench` (ResNet50, seeded random weights, 224x224) side by side with PyTorch 1.13
# (../shared/peers/bench_torch.py, torchvision resnet50 with 5 classes, no_grad) on the same
# work: batch 1 and 8, same thread count, rounds interleaved because this machine drifts ~10%
# between runs. Prints every round and the median ratio ours / torch (below 1: we are faster).
#   tests/bench/bench-vs-torch.sh [HEPASCOPE_CLI] [ROUNDS] [RUNS] [THREADS]
# BATCHES="1 8" (the default) picks the batch sizes (bench_torch.py measures 1, 8 and 32).
# Needs /usr/bin/python3 with Debian's python3-torch; HEPA_PEERS overrides the peers folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cli=${1:-$here/../../_build/app/hepascope-cli}
rounds=${2:-3}
runs=${3:-20}
threads=${4:-2}
peers=${HEPA_PEERS:-$here/../../../shared/peers}

[ -x "$cli" ] || { echo "$0: $cli: not built (pass the hepascope-cli path)" >&2; exit 1; }
[ -f "$peers/bench_torch.py" ] || { echo "$0: $peers/bench_torch.py: not found" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for batch in ${BATCHES:-1 8}; do
  i=1
  while [ "$i" -le "$rounds" ]; do
    ours=$(HEPASCOPE_THREADS=$threads "$cli" bench --arch resnet50 --batch "$batch" --size 224 \
             --threads "$threads" --runs "$runs" --json)
    torch=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$peers/bench_torch.py" "infer$batch" \
              --threads "$threads" --runs "$runs" | grep '"no_grad"')
    echo "batch $batch round $i ours:  $ours"
    echo "batch $batch round $i torch: $torch"
    printf '%s %s\n%s %s\n' "$batch" "$ours" "$batch" "$torch" >> "$out"
    i=$((i + 1))
  done
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [l.split(" ", 1) for l in open(sys.argv[1])]
for bs in sorted({int(b) for b, _ in rows}):
    recs = [json.loads(r) for b, r in rows if int(b) == bs]
    ours = [r["median_ms"] for r in recs[0::2]]
    torch = [r["median_ms"] for r in recs[1::2]]
    ratios = [a / b for a, b in zip(ours, torch)]
    print("batch %d: ours %.1f ms (%.2f img/s, %.1f GFLOP/s), torch %.1f ms (%.2f img/s); "
          "ratio ours/torch per round %s, median %.3f"
          % (bs, statistics.median(ours), bs * 1e3 / statistics.median(ours),
             statistics.median(r["gflops_per_s"] for r in recs[0::2]),
             statistics.median(torch), bs * 1e3 / statistics.median(torch),
             " ".join("%.3f" % r for r in ratios), statistics.median(ratios)))
PY
