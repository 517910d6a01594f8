#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hard phantom export trees for comparing learning curves (issue 27): few images, imbalanced
classes, small ROIs, low-contrast lesions, so that neither trainer saturates within 15 epochs.

    /usr/bin/python3 tests/torch/make_hard_tree.py --cli _build/app/hepascope-cli --out DIR \\
        --seed 1 --counts 48,32,24,20,16 --size 64

Steps: `hepascope-cli synth` (PNG), every ROI shrunk about its centre by --roi-scale (less
context around the lesion), `hepascope-cli export --size SIZE`, then every crop pulled towards its
own mean by --contrast and given Gaussian noise of --noise grey levels (lower lesion contrast),
and each class cut to its count (the first N crops in name order). Deterministic for a seed.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

CLASSES = ["non_fll", "cyst", "hemangioma", "ffs", "hcc"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cli", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--counts", default="48,32,24,20,16", help="images per class, in " + ",".join(CLASSES))
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--roi-scale", type=float, default=0.6)
    p.add_argument("--contrast", type=float, default=0.5)
    p.add_argument("--noise", type=float, default=12.0)
    args = p.parse_args()

    counts = [int(c) for c in args.counts.split(",")]
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ph = os.path.join(tmp, "ph")
        subprocess.run([args.cli, "synth", "--out", ph, "--per-class", str(max(counts)),
                        "--seed", str(args.seed), "--size", "320x240", "--format", "png",
                        "-j", "2"], check=True, stdout=subprocess.DEVNULL)
        for side in glob.glob(os.path.join(ph, "*.hepascope.json")):
            with open(side) as f:
                d = json.load(f)
            for r in d["rois"]:
                cx, cy = r["x"] + r["width"] / 2, r["y"] + r["height"] / 2
                w = max(8, int(round(r["width"] * args.roi_scale)))
                h = max(8, int(round(r["height"] * args.roi_scale)))
                r["x"], r["y"], r["width"], r["height"] = int(cx - w / 2), int(cy - h / 2), w, h
            with open(side, "w") as f:
                json.dump(d, f)
        subprocess.run([args.cli, "export", "--out", args.out, "--no-frames", "--size",
                        str(args.size), "--classes", ",".join(CLASSES), ph],
                       check=True, stdout=subprocess.DEVNULL)
    for c, n in zip(CLASSES, counts):
        files = sorted(glob.glob(os.path.join(args.out, c, "*.png")))
        for i, path in enumerate(files):
            if i >= n:
                os.unlink(path)
                continue
            v = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
            v = v.mean() + args.contrast * (v - v.mean()) + rng.normal(0, args.noise, v.shape)
            Image.fromarray(np.clip(np.rint(v), 0, 255).astype(np.uint8)).save(path)
    print(f"{args.out}: " + ", ".join(f"{c} {n}" for c, n in zip(CLASSES, counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
