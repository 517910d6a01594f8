#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Issue 26: how much of its speed the engine keeps on a machine another program keeps busy.
# Measures, alone and then beside each competitor (started here, running for the whole
# measurement, killed after):
#   inference: hepascope-cli bench, ResNet50 batch 1 at 224
#   training:  hepascope-cli bench --train, ResNet18 batch 16 at 112 (forward, backward, SGD)
# Competitors: "busy", one shell busy loop per CPU; "torch", a PyTorch training loop
# (../shared/peers/bench_torch.py train16_112, run long) with as many threads as we use.
# Prints solo and shared throughput, the kept fraction (shared / solo; target >= 0.40), the
# load with every figure, the CPU and our kernel instruction set.
#   tests/bench/bench-shared-machine.sh [HEPASCOPE_CLI] [THREADS] [ROUNDS]
# COMPETITORS="busy torch" (default) picks them; INFER_RUNS (20) and TRAIN_RUNS (5) the runs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cli=${1:-$here/../../_build/app/hepascope-cli}
threads=${2:-2}
rounds=${3:-1}
peers=${HEPA_PEERS:-$here/../../../shared/peers}
infer_runs=${INFER_RUNS:-20}
train_runs=${TRAIN_RUNS:-5}
competitors=${COMPETITORS:-busy torch}

[ -x "$cli" ] || { echo "$0: $cli: not built (pass the hepascope-cli path)" >&2; exit 1; }

pids=""
stop_competitor () {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  pids=""
}
trap stop_competitor EXIT INT TERM

start_competitor () {
  case $1 in
    busy)
      n=$(nproc)
      while [ "$n" -gt 0 ]; do
        sh -c 'while :; do :; done' &
        pids="$pids $!"
        n=$((n - 1))
      done ;;
    torch)
      [ -f "$peers/bench_torch.py" ] || { echo "$0: $peers/bench_torch.py: not found" >&2; exit 1; }
      OMP_NUM_THREADS=$threads /usr/bin/python3 "$peers/bench_torch.py" train16_112 \
        --threads "$threads" --runs 100000 >/dev/null 2>&1 &
      pids="$pids $!" ;;
    *) echo "$0: unknown competitor $1" >&2; exit 1 ;;
  esac
  sleep 3   # let it reach its steady state (torch imports, allocates, warms up)
}

load () { cut -d' ' -f1-3 /proc/loadavg; }
infer () {
  "$cli" bench --arch resnet50 --batch 1 --size 224 --threads "$threads" --runs "$infer_runs" \
    --json | sed -n 's/.*"img_per_s":\([0-9.]*\).*"isa":"\([a-z0-9]*\)".*/\1 \2/p'
}
train () {
  "$cli" bench --train --arch resnet18 --batch 16 --size 112 --threads "$threads" \
    --runs "$train_runs" --warmup 1 --json | sed -n 's/.*"img_per_s": *\([0-9.]*\).*/\1/p'
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs;" \
     "$threads threads"
r=1
while [ "$r" -le "$rounds" ]; do
  l=$(load); set -- $(infer); solo_i=$1; isa=$2
  printf "round %s solo:   inference %.2f img/s (kernels %s), load %s\n" "$r" "$solo_i" "$isa" "$l"
  l=$(load); solo_t=$(train)
  printf "round %s solo:   training  %.2f img/s, load %s\n" "$r" "$solo_t" "$l"
  for c in $competitors; do
    start_competitor "$c"
    l=$(load); set -- $(infer); shared_i=$1
    l2=$(load); shared_t=$(train)
    stop_competitor
    awk -v c="$c" -v r="$r" -v si="$solo_i" -v hi="$shared_i" -v st="$solo_t" -v ht="$shared_t" \
        -v l="$l" -v l2="$l2" 'BEGIN {
      printf "round %s beside %-5s inference %.2f img/s, kept %.2f (load %s); " \
             "training %.2f img/s, kept %.2f (load %s)\n", r, c, hi, hi / si, l, ht, ht / st, l2 }'
  done
  r=$((r + 1))
done
echo "target (issue 26): kept >= 0.40 for inference and training beside each competitor"
