#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# ResNet50 forward, libhepa-nn against PyTorch 1.13 on the same work, interleaved in one run
# because this machine's timings drift by 10% between runs.
#   tests/bench-nn-vs-torch.sh BUILD_DIR [BATCH (1 or 8)] [ROUNDS] [RUNS] [THREADS]
# Needs ../shared/peers/bench_torch.py and /usr/bin/python3 with torch; prints per-round
# medians and the median ratio ours / torch.
set -eu
build=${1:?usage: $0 BUILD_DIR [BATCH] [ROUNDS] [RUNS] [THREADS]}
batch=${2:-1}
rounds=${3:-3}
runs=${4:-20}
threads=${5:-2}
here=$(cd "$(dirname "$0")" && pwd)
peers=${HEPA_PEERS:-$here/../../shared/peers}
bench=$build/tests/bench-nn

[ -x "$bench" ] || { echo "$0: $bench: not built" >&2; exit 1; }
[ -f "$peers/bench_torch.py" ] || { echo "$0: $peers/bench_torch.py: not found" >&2; exit 1; }
case $batch in 1|8) ;; *) echo "$0: batch must be 1 or 8 (what bench_torch.py measures)" >&2; exit 1;; esac

out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=1
while [ "$i" -le "$rounds" ]; do
  ours=$("$bench" --arch 50 --batch "$batch" --size 224 --threads "$threads" --runs "$runs" --json)
  torch=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$peers/bench_torch.py" "infer$batch" \
            --threads "$threads" --runs "$runs" | grep '"no_grad"')
  echo "round $i ours:  $ours"
  echo "round $i torch: $torch"
  printf '%s\n%s\n' "$ours" "$torch" >> "$out"
  i=$((i + 1))
done

/usr/bin/python3 - "$out" "$batch" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ours = [r["median_ms"] for r in rows[0::2]]
torch = [r["median_ms"] for r in rows[1::2]]
ratios = [a / b for a, b in zip(ours, torch)]
bs = int(sys.argv[2])
print("ours  median ms per round: " + " ".join("%.1f" % v for v in ours))
print("torch median ms per round: " + " ".join("%.1f" % v for v in torch))
print("ratio ours/torch per round: " + " ".join("%.3f" % v for v in ratios))
print("batch %d: ours %.1f ms (%.2f img/s), torch %.1f ms (%.2f img/s), median ratio %.3f"
      % (bs, statistics.median(ours), bs * 1e3 / statistics.median(ours),
         statistics.median(torch), bs * 1e3 / statistics.median(torch), statistics.median(ratios)))
EOF
