#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Learning curves of `hepascope-cli train` and of the torchvision reference (train_reference.py)
on the same trees with the same protocol, side by side, one line per epoch (issue 27).

    /usr/bin/python3 tests/torch/compare_curves.py --cli _build/app/hepascope-cli \\
        --train TRAIN --val HELDOUT --size 64 --epochs 15 [--ours-args "--translation subpixel"] \\
        [--ref-args "--zero-init-residual"] [--ref-json saved.jsonl] [--json out.json]

Both run at once, one thread each. Ours: --folds 1 --val HELDOUT, its per-epoch summary lines
(non-TTY log). Prints training and held-out accuracy per epoch for both, the differences, and
whether ours is within --margin points of the reference or above from epoch --from on.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"epoch (\d+)/(\d+): training loss ([0-9.naif]+) accuracy ([0-9.]+)%"
                  r"(?:, validation loss ([0-9.naif]+) accuracy ([0-9.]+)%)?")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cli", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ours-args", default="")
    p.add_argument("--ref-args", default="")
    p.add_argument("--ref-json", help="reuse a reference run's JSON lines instead of running it")
    p.add_argument("--save-ref", help="write the reference's JSON lines here")
    p.add_argument("--json", help="write both curves here")
    p.add_argument("--margin", type=float, default=2.0, help="points")
    p.add_argument("--from", dest="first", type=int, default=5, help="first epoch checked")
    args = p.parse_args()

    common = ["--arch", args.arch, "--size", str(args.size), "--epochs", str(args.epochs),
              "--batch", str(args.batch), "--lr", str(args.lr)]
    env = dict(os.environ, LC_ALL="C", LANGUAGE="", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", HEPASCOPE_THREADS="1")
    env.pop("CI", None)
    with tempfile.TemporaryDirectory() as tmp:
        ours_cmd = ([args.cli, "train", "--data", args.train, "--val", args.val, "--out",
                     os.path.join(tmp, "m.safetensors"), "--folds", "1", "--seed", str(args.seed),
                     "--threads", "1"] + common + shlex.split(args.ours_args))
        ours = subprocess.Popen(ours_cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        ref = None
        if not args.ref_json:
            ref_cmd = ([sys.executable, os.path.join(HERE, "train_reference.py"), "--train",
                        args.train, "--val", args.val, "--seed", str(args.seed), "--threads", "1"]
                       + common + shlex.split(args.ref_args))
            ref = subprocess.Popen(ref_cmd, env=env, stdout=subprocess.PIPE, text=True)
        out, err = ours.communicate()
        if ours.returncode != 0:
            print(err[-3000:], file=sys.stderr)
            return 2
        ref_lines = (ref.communicate()[0] if ref is not None else open(args.ref_json).read())
        if ref is not None and ref.returncode != 0:
            return 2
    if args.save_ref:
        with open(args.save_ref, "w") as f:
            f.write(ref_lines)
    r = [json.loads(line) for line in ref_lines.splitlines() if line.startswith("{")]
    o = []
    for m in LINE.finditer(err):
        o.append({"epoch": int(m.group(1)), "train_loss": float(m.group(3)),
                  "train_acc": float(m.group(4)) / 100,
                  "val_acc": float(m.group(6)) / 100 if m.group(6) else float("nan")})
    print(f"# {args.arch} {args.size} px, {args.epochs} epochs, batch {args.batch}, lr {args.lr}; "
          f"ours: {args.ours_args or 'defaults'}; reference: {args.ref_args or 'defaults'}")
    print("| epoch | train acc ours | train acc torch | diff | held-out ours | held-out torch "
          "| diff | train loss ours | train loss torch |")
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for a, b in zip(o, r):
        dt = 100 * (a["train_acc"] - b["train_acc"])
        dv = 100 * (a["val_acc"] - b["val_acc"])
        flag = ""
        if a["epoch"] >= args.first and (dt < -args.margin or dv < -args.margin):
            ok = False
            flag = " *"
        print(f"| {a['epoch']} | {100 * a['train_acc']:.1f} | {100 * b['train_acc']:.1f} | "
              f"{dt:+.1f} | {100 * a['val_acc']:.1f} | {100 * b['val_acc']:.1f} | {dv:+.1f}{flag} | "
              f"{a['train_loss']:.3f} | {b['train_loss']:.3f} |")
    n = min(len(o), len(r))
    last = lambda v, k: sum(x[k] for x in v[n - 5:n]) / 5 if n >= 5 else float("nan")
    print(f"# mean of the last 5 epochs: train {100 * last(o, 'train_acc'):.1f} vs "
          f"{100 * last(r, 'train_acc'):.1f}, held-out {100 * last(o, 'val_acc'):.1f} vs "
          f"{100 * last(r, 'val_acc'):.1f}")
    print(f"# within {args.margin} points or above from epoch {args.first}: {'yes' if ok else 'no'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ours": o, "reference": r, "ours_args": args.ours_args,
                       "ref_args": args.ref_args}, f)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
