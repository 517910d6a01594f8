#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mean learning curves over seeds from compare_curves.py --json files, ours and the torchvision
reference side by side (issue 27). Single runs at a constant learning rate swing by 10 points or
more from epoch to epoch on small trees, so the 2-point criterion is checked on seed means.

    /usr/bin/python3 tests/torch/mean_curves.py A-s1.json A-s2.json A-s3.json [--ref R-s1.json ...]

--ref takes the reference curves from other files (for example to compare one of our variants
with the reference runs of the same seeds); by default each file's own reference run is used.
"""
import argparse
import json
import sys


def mean(curves, key, n):
    return [sum(c[e][key] for c in curves) / len(curves) for e in range(n)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--ref", nargs="*", default=None)
    p.add_argument("--margin", type=float, default=2.0)
    p.add_argument("--from", dest="first", type=int, default=5)
    p.add_argument("--label", default="")
    args = p.parse_args()

    runs = [json.load(open(f)) for f in args.files]
    ours = [r["ours"] for r in runs]
    refs = [json.load(open(f))["reference"] for f in args.ref] if args.ref else [r["reference"] for r in runs]
    n = min(min(len(c) for c in ours), min(len(c) for c in refs))
    ot, rt = mean(ours, "train_acc", n), mean(refs, "train_acc", n)
    ov = mean(ours, "val_acc", n)
    rv = mean(refs, "val_acc", n)
    print(f"# {args.label or runs[0].get('ours_args') or 'defaults'}: mean of {len(ours)} seeds "
          f"(ours) vs {len(refs)} (torchvision)")
    print("| epoch | train acc ours | train acc torch | diff | held-out ours | held-out torch | diff |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for e in range(n):
        dt, dv = 100 * (ot[e] - rt[e]), 100 * (ov[e] - rv[e])
        flag = ""
        if e + 1 >= args.first and (dt < -args.margin or dv < -args.margin):
            ok, flag = False, " *"
        print(f"| {e + 1} | {100 * ot[e]:.1f} | {100 * rt[e]:.1f} | {dt:+.1f} | {100 * ov[e]:.1f} | "
              f"{100 * rv[e]:.1f} | {dv:+.1f}{flag} |")
    k = min(5, n)
    print(f"# mean of epochs {n - k + 1}-{n}: train {100 * sum(ot[-k:]) / k:.1f} vs "
          f"{100 * sum(rt[-k:]) / k:.1f}, held-out {100 * sum(ov[-k:]) / k:.1f} vs "
          f"{100 * sum(rv[-k:]) / k:.1f}")
    print(f"# within {args.margin} points or above from epoch {args.first}: {'yes' if ok else 'no'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
