#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""How much fine texture a sub-pixel (bilinear) translation takes out of a training input
(issue 27): the mean squared difference of neighbouring pixels of a crop shifted by a random
fraction of a pixel, over that of the crop itself. Whole-pixel translation keeps 1.0; the
held-out images a model is tested on are never shifted, so anything below 1 is a difference
between what the model trains on and what it is tested on.

    /usr/bin/python3 tests/torch/texture_energy.py TREE [--n 200]
"""
import argparse
import glob
import os
import sys

import numpy as np
from PIL import Image


def energy(v):
    return np.mean(np.diff(v, axis=1) ** 2) + np.mean(np.diff(v, axis=0) ** 2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tree")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    files = sorted(glob.glob(os.path.join(args.tree, "*", "*.png")))[:args.n]
    ratios = []
    for f in files:
        v = np.asarray(Image.open(f).convert("L"), dtype=np.float64)
        fx, fy = rng.random(), rng.random()
        # Bilinear sample at (x - fx, y - fy), as the trainer's sampler does for a sub-pixel shift.
        s = ((1 - fx) * (1 - fy) * v[1:, 1:] + fx * (1 - fy) * v[1:, :-1]
             + (1 - fx) * fy * v[:-1, 1:] + fx * fy * v[:-1, :-1])
        ratios.append(energy(s) / energy(v[1:, 1:]))
    r = np.array(ratios)
    print(f"{args.tree}: {len(r)} crops; fine-texture energy after a random sub-pixel shift / "
          f"before: mean {r.mean():.2f}, 10th percentile {np.percentile(r, 10):.2f}, "
          f"min {r.min():.2f} (whole-pixel shift: 1.00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
