#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `hepascope-cli bench` (ResNet50, seeded random weights, 224x224) side by side with its peers on
# the same work, in the same run, rounds interleaved (this machine drifts ~10% between runs):
#   PyTorch 1.13 (../shared/peers/bench_torch.py, torchvision resnet50, 5 classes, no_grad) and
#   onnxruntime-node (../shared/peers/bench_ort.js on the same network exported to ONNX).
# Prints every round with the load, then the median ratios ours / peer (below 1: we are faster),
# the CPU, our kernel instruction set, and the per-layer table of our engine (bench-nn --layers).
#   tests/bench/bench-vs-torch.sh [HEPASCOPE_CLI] [ROUNDS] [RUNS] [THREADS]
# BATCHES="1 8" (the default) picks the batch sizes. ORT_DIR (default /tmp/ortnode) is where
# onnxruntime-node is installed:
#   mkdir -p /tmp/ortnode && cd /tmp/ortnode && npm init -y && npm install --ignore-scripts onnxruntime-node
# without it the onnxruntime rounds are skipped (said so). HEPASCOPE_ISA=avx2|baseline|avx512
# forces our kernels. Needs /usr/bin/python3 with Debian's python3-torch; HEPA_PEERS overrides
# the peers folder. Targets (issue 21, quiet machine): ours/onnxruntime <= 0.8 and ours/torch
# <= 0.5 at batch 1, >= 25 img/s at batch 8.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cli=${1:-$here/../../_build/app/hepascope-cli}
rounds=${2:-3}
runs=${3:-20}
threads=${4:-2}
peers=${HEPA_PEERS:-$here/../../../shared/peers}
ort_dir=${ORT_DIR:-/tmp/ortnode}
onnx=/tmp/resnet50_5cls.onnx
bench_nn=$(dirname "$cli")/../tests/bench-nn

[ -x "$cli" ] || { echo "$0: $cli: not built (pass the hepascope-cli path)" >&2; exit 1; }
[ -f "$peers/bench_torch.py" ] || { echo "$0: $peers/bench_torch.py: not found" >&2; exit 1; }

use_ort=0
if [ -d "$ort_dir/node_modules/onnxruntime-node" ] && command -v node >/dev/null 2>&1; then
  if [ ! -s "$onnx" ]; then
    # bench_torch.py's export needs the onnx package for its checker; torch alone can export.
    /usr/bin/python3 - "$onnx" <<'PY' >/dev/null 2>&1 || true
import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet50(weights=None, num_classes=5).eval()
x = torch.randn(1, 3, 224, 224)
torch.onnx.export(m, x, sys.argv[1], opset_version=13, input_names=["input"],
                  output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
with torch.no_grad():
    ref = m(x)
x.numpy().astype("float32").tofile("/tmp/resnet50_input.f32")
ref.numpy().astype("float32").tofile("/tmp/resnet50_ref.f32")
PY
  fi
  [ -s "$onnx" ] && use_ort=1
fi
[ "$use_ort" = 1 ] || echo "onnxruntime-node: not found in $ort_dir (or no ONNX export): skipped"

load () { cut -d' ' -f1-3 /proc/loadavg; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs," \
     "flags: $(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for batch in ${BATCHES:-1 8}; do
  i=1
  while [ "$i" -le "$rounds" ]; do
    l=$(load)
    ours=$(HEPASCOPE_THREADS=$threads "$cli" bench --arch resnet50 --batch "$batch" --size 224 \
             --threads "$threads" --runs "$runs" --json)
    torch=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$peers/bench_torch.py" "infer$batch" \
              --threads "$threads" --runs "$runs" | grep '"no_grad"')
    ort='{}'
    if [ "$use_ort" = 1 ]; then
      ort=$(cd "$ort_dir" && NODE_PATH="$ort_dir/node_modules" node "$peers/bench_ort.js" "$onnx" \
              "$threads" "$runs" "$batch")
    fi
    echo "batch $batch round $i load $l ours:  $ours"
    echo "batch $batch round $i load $l torch: $torch"
    [ "$use_ort" = 1 ] && echo "batch $batch round $i load $l ort:   $ort"
    printf '%s\t%s\t%s\t%s\t%s\n' "$batch" "$l" "$ours" "$torch" "$ort" >> "$out"
    i=$((i + 1))
  done
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for bs in sorted({int(r[0]) for r in rows}):
    recs = [(r[1], json.loads(r[2]), json.loads(r[3]), json.loads(r[4])) for r in rows if int(r[0]) == bs]
    ours = [o["median_ms"] for _, o, _, _ in recs]
    torch = [t["median_ms"] for _, _, t, _ in recs]
    rt = [a / b for a, b in zip(ours, torch)]
    print("batch %d: ours %.1f ms (%.2f img/s, %.1f GFLOP/s, kernels %s), torch %.1f ms (%.2f img/s); "
          "ours/torch per round %s, median %.3f"
          % (bs, statistics.median(ours), bs * 1e3 / statistics.median(ours),
             statistics.median(o["gflops_per_s"] for _, o, _, _ in recs), recs[0][1].get("isa", "?"),
             statistics.median(torch), bs * 1e3 / statistics.median(torch),
             " ".join("%.3f" % r for r in rt), statistics.median(rt)))
    ort = [x["median_ms"] for _, _, _, x in recs if "median_ms" in x]
    if len(ort) == len(ours):
        ro = [a / b for a, b in zip(ours, ort)]
        print("batch %d: onnxruntime-node %s %.1f ms (%.2f img/s); ours/onnxruntime per round %s, "
              "median %.3f"
              % (bs, recs[0][3].get("ort_node", "?"), statistics.median(ort),
                 bs * 1e3 / statistics.median(ort), " ".join("%.3f" % r for r in ro),
                 statistics.median(ro)))
    print("batch %d: load (1, 5, 15 min) per round: %s" % (bs, "; ".join(l for l, _, _, _ in recs)))
PY

if [ -x "$bench_nn" ]; then
  echo "per-layer table (bench-nn --layers, batch 1):"
  "$bench_nn" --arch 50 --batch 1 --size 224 --threads "$threads" --runs "$runs" --layers
fi
