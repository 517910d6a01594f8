#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One tiny DistributedDataParallel step (one CPU process, gloo, started with the environment
# torchrun would set: Debian's torch 1.13 launcher trips over Python 3.11's enum changes) on a
# generated export tree, then the .pth comes back through hepascope-cli convert and classify. TAP output; skipped,
# and said so, where Debian's python3-torch is not installed.
set -u
cli="${HEPASCOPE_CLI:?}"
here="$(cd "$(dirname "$0")" && pwd)"
echo "TAP version 13"
if ! /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
  echo "1..0 # SKIP python3-torch and python3-torchvision are not installed"
  exit 0
fi
echo "1..3"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$cli" synth --out "$tmp/ph" --per-class 2 --seed 5 --size 192x160 --format png -j 2 >/dev/null 2>&1 &&
  "$cli" export --out "$tmp/tree" --no-frames --classes non_fll,cyst,hemangioma,ffs,hcc "$tmp/ph" >/dev/null 2>&1
if OMP_NUM_THREADS=1 RANK=0 LOCAL_RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29517 \
     /usr/bin/python3 "$here/hepascope_ddp.py" --data "$tmp/tree" --out "$tmp/m.pth" --arch resnet18 --size 32 \
     --steps 1 --batch 4 >"$tmp/ddp.log" 2>&1; then
  echo "ok 1 - DistributedDataParallel trained one step and saved a state dict"
else
  echo "not ok 1 - the DDP script failed"; sed 's/^/# /' "$tmp/ddp.log" | tail -20
fi
if "$cli" convert "$tmp/m.pth" "$tmp/m.safetensors" --arch resnet18 --classes "$(cat "$tmp/m.pth.classes" 2>/dev/null)" >"$tmp/conv.log" 2>&1; then
  echo "ok 2 - hepascope-cli convert took the .pth"
else
  echo "not ok 2 - convert failed"; sed 's/^/# /' "$tmp/conv.log"
fi
img=$(ls "$tmp"/ph/*.png | head -1)
if "$cli" classify "$img" --model "$tmp/m.safetensors" --json >"$tmp/cls.json" 2>"$tmp/cls.log" &&
   grep -q '"probabilities"' "$tmp/cls.json"; then
  echo "ok 3 - the converted model classifies"
else
  echo "not ok 3 - classify failed"; sed 's/^/# /' "$tmp/cls.log"
fi
