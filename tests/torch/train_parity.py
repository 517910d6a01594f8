#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step-by-step parity of Hepascope's trainer with PyTorch.

    hepascope-cli train --data TREE --out m.safetensors --folds 1 --trace DIR --trace-steps 3 ...
    /usr/bin/python3 tests/torch/train_parity.py DIR

The trace holds the trainer's initial weights (init.safetensors, with the SGD settings in its
metadata), each traced step's batch as the trainer fed it, the logits, the loss and every gradient
(step-N.safetensors), and the weights, running statistics and momentum buffers after the last
traced step (after.safetensors). This script builds torchvision's model from the same initial
weights, in float64, feeds it the same batches in the same order in training mode, takes the mean
cross-entropy, backpropagates and steps torch.optim.SGD (momentum, weight decay on every
parameter), and compares at every step: loss, logits, every gradient; at the end every weight,
running mean and variance and momentum buffer. Prints a table; exits 1 when anything differs by
more than float32 tolerance.

Float32 tolerance: a tensor passes when its error against the float64 reference is below the
fixed bound or below 4 times the error of PyTorch's own float32 run of the same steps (small
batches through batch norm amplify rounding from step to step; PyTorch in float32 drifts from
float64 as much as or more than we do, so it sets the bar).
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hepa_torch import load_state, make_model, read_safetensors, read_tree  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406]).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225]).reshape(3, 1, 1)


def check_inputs(x, labels, tree):
    """With no translation and no balancing copies every traced input is an image of the tree as
    PIL reads it, or its mirror image, with that image's label. Returns the failures."""
    images, tree_labels = tree
    bad = []
    for j, sample in enumerate(x):
        grey = (sample * STD + MEAN) * 255.0
        if np.abs(grey - grey[0:1]).max() > 1e-3:
            bad.append(f"input {j}: the 3 channels differ")
            continue
        g = grey[0]
        d = [min(np.abs(g - im).max(), np.abs(g - im[:, ::-1]).max()) for im in images]
        i = int(np.argmin(d))
        if d[i] > 0.01 or tree_labels[i] != int(labels[j]):
            bad.append(f"input {j}: nearest tree image differs by {d[i]:.3f} grey levels, "
                       f"label {int(labels[j])} vs {tree_labels[i]}")
    return bad


def rel_err(ours, ref):
    ours = np.asarray(ours, dtype=np.float64).ravel()
    ref = np.asarray(ref, dtype=np.float64).ravel()
    scale = max(np.linalg.norm(ref), 1e-12)
    return float(np.linalg.norm(ours - ref) / scale)


def check_init(init, arch, n_classes):
    """The trainer's initial weights against torchvision's own initialisation of the same model:
    per tensor of 256 values or more the standard deviation (within 5 %), the constant ones
    (batch norm) equal, and for the convolutions of 4096 values or more the
    kurtosis (3 for kaiming_normal_, 1.8 for a uniform). Returns (rows, failures)."""
    ref = make_model(arch, n_classes).state_dict()
    rows, bad = [], []
    for name, t in ref.items():
        if name.endswith("num_batches_tracked") or name not in init:
            continue
        ours = init[name].astype(np.float64).ravel()
        theirs = t.numpy().astype(np.float64).ravel()
        if theirs.std() == 0:
            same = np.allclose(ours, theirs)
            if not same:
                bad.append(f"init: {name} is not constant {theirs[0]} as torchvision's")
            continue
        r = ours.std() / theirs.std()
        kurt = lambda v: float(np.mean((v - v.mean()) ** 4) / v.var() ** 2)
        row = (name, r, kurt(ours), kurt(theirs))
        if name.endswith(".weight") and init[name].ndim == 4 and ours.size >= 4096:
            rows.append(row)
            if abs(kurt(ours) - kurt(theirs)) > 0.5:
                bad.append(f"init: {name} kurtosis {kurt(ours):.2f}, torchvision {kurt(theirs):.2f}")
        if ours.size >= 256 and abs(r - 1) > 0.05:
            bad.append(f"init: {name} standard deviation {ours.std():.3g}, torchvision {theirs.std():.3g}")
    return rows, bad


def init_size(trace):
    t, _ = read_safetensors(os.path.join(trace, "step-0.safetensors"))
    return t["input"].shape[-1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trace", help="folder written by hepascope-cli train --trace")
    p.add_argument("--tol-loss", type=float, default=1e-4, help="absolute, on the loss")
    p.add_argument("--tol-grad", type=float, default=2e-3,
                   help="relative L2 error of each gradient tensor")
    p.add_argument("--tol-weight", type=float, default=1e-4,
                   help="relative L2 error of each tensor after the last step")
    p.add_argument("--show", type=int, default=6, help="named gradients to print per step")
    p.add_argument("--tree", help="the export tree trained on (with --translate 0 --no-balance): "
                                  "check that every traced input is one of its images, as read "
                                  "by PIL, or its mirror, with its label")
    args = p.parse_args()

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    init, meta = read_safetensors(os.path.join(args.trace, "init.safetensors"))
    sgd = json.loads(meta["sgd"])
    arch = meta.get("arch", "resnet18")
    n_classes = init["fc.weight"].shape[0]
    model = make_model(arch, n_classes).double()
    load_state(model, init)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=sgd["lr"], momentum=sgd["momentum"],
                          weight_decay=sgd["weight_decay"])
    m32 = make_model(arch, n_classes)
    load_state(m32, init)
    m32.train()
    opt32 = torch.optim.SGD(m32.parameters(), lr=sgd["lr"], momentum=sgd["momentum"],
                            weight_decay=sgd["weight_decay"])
    loss_fn = torch.nn.CrossEntropyLoss()
    params = dict(model.named_parameters())
    params32 = dict(m32.named_parameters())
    show = ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
            "layer4.1.bn2.bias", "fc.weight", "fc.bias"][:args.show]

    steps = sorted(glob.glob(os.path.join(args.trace, "step-*.safetensors")),
                   key=lambda s: int(os.path.basename(s)[5:-12]))
    if not steps:
        print(f"{args.trace}: no step-N.safetensors", file=sys.stderr)
        return 2
    failures = []
    rows, bad = check_init(init, arch, n_classes)
    failures += bad
    print(f"# initial weights vs torchvision's own init: {len(rows)} convolutions; std ratio "
          f"{min(r[1] for r in rows):.3f}..{max(r[1] for r in rows):.3f}, kurtosis ours "
          f"{min(r[2] for r in rows):.2f}..{max(r[2] for r in rows):.2f}, torchvision "
          f"{min(r[3] for r in rows):.2f}..{max(r[3] for r in rows):.2f}")
    tree = None
    if args.tree:
        images, tree_labels, _, _ = read_tree(args.tree, init_size(args.trace))
        tree = (images.astype(np.float64), tree_labels)
    print(f"# {arch}, {n_classes} classes, lr {sgd['lr']}, momentum {sgd['momentum']}, "
          f"weight decay {sgd['weight_decay']}; torch {torch.__version__} float64 as reference")
    print("| step | batch | loss (ours) | loss (torch f64) | loss (torch f32) | |ours - f64| | "
          "logits rel | worst gradient: ours (torch f32) | "
          + " | ".join(f"{n}: ours (f32)" for n in show) + " |")
    print("|---" * (8 + len(show)) + "|")
    for i, path in enumerate(steps):
        t, m = read_safetensors(path)
        x = torch.from_numpy(t["input"]).double()
        y = torch.from_numpy(t["labels"].astype(np.int64))
        if tree is not None:
            bad = check_inputs(t["input"].astype(np.float64), t["labels"], tree)
            failures += [f"step {i}: {b}" for b in bad]
            if not bad:
                print(f"# step {i}: all {x.shape[0]} inputs are tree images (or mirrors) with "
                      f"their labels, exact to 0.01 grey levels")
        opt.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt32.zero_grad()
        loss32 = loss_fn(m32(x.float()), y)
        loss32.backward()
        ours_loss = float(m["loss"])
        dl = abs(ours_loss - loss.item())
        dl32 = abs(loss32.item() - loss.item())
        lrel = rel_err(t["logits"], logits.detach().numpy())
        errs, errs32 = {}, {}
        for name, prm in params.items():
            g = t.get("grad." + name)
            if g is None:
                failures.append(f"step {i}: no gradient for {name} in the trace")
                continue
            errs[name] = rel_err(g, prm.grad.numpy())
            errs32[name] = rel_err(params32[name].grad.numpy(), prm.grad.numpy())
        worst = max(errs, key=lambda n: errs[n] / max(args.tol_grad, 4 * errs32[n]))
        print(f"| {i} | {x.shape[0]} | {ours_loss:.6f} | {loss.item():.6f} | {loss32.item():.6f} | "
              f"{dl:.1e} | {lrel:.1e} | {worst}: {errs[worst]:.1e} ({errs32[worst]:.1e}) | "
              + " | ".join(f"{errs.get(n, float('nan')):.1e} ({errs32.get(n, float('nan')):.1e})"
                           for n in show) + " |")
        if not dl <= max(args.tol_loss, 4 * dl32):
            failures.append(f"step {i}: loss {ours_loss} vs torch {loss.item()} "
                            f"(torch float32 {loss32.item()})")
        bad = [n for n, e in errs.items() if not e <= max(args.tol_grad, 4 * errs32[n])]
        if bad:
            failures.append(f"step {i}: {len(bad)} gradients off by more than "
                            f"max({args.tol_grad}, 4 x torch float32's) (worst {worst}: "
                            f"{errs[worst]:.2e}, torch float32 {errs32[worst]:.2e})")
        opt.step()
        opt32.step()

    after_path = os.path.join(args.trace, "after.safetensors")
    if os.path.exists(after_path):
        after, _ = read_safetensors(after_path)
        state, state32 = model.state_dict(), m32.state_dict()
        kinds = {"weights": [], "running stats": [], "momentum buffers": []}
        for name, ref in state.items():
            if name.endswith("num_batches_tracked"):
                continue
            e = rel_err(after[name], ref.numpy())
            e32 = rel_err(state32[name].numpy(), ref.numpy())
            kinds["running stats" if "running_" in name else "weights"].append((e, e32, name))
        for name, prm in params.items():
            buf = opt.state[prm].get("momentum_buffer")
            buf32 = opt32.state[params32[name]].get("momentum_buffer")
            v = after.get("velocity." + name)
            if buf is not None and v is not None:
                kinds["momentum buffers"].append((rel_err(v, buf.numpy()),
                                                  rel_err(buf32.numpy(), buf.numpy()), name))
        print()
        print(f"| after step {len(steps) - 1} | tensors | worst rel err: ours (torch f32) | where |")
        print("|---|---|---|---|")
        for kind, lst in kinds.items():
            if not lst:
                failures.append(f"after: no {kind} to compare")
                continue
            tol = args.tol_weight * (10 if kind == "momentum buffers" else 1)
            e, e32, name = max(lst, key=lambda v: v[0] / max(tol, 4 * v[1]))
            print(f"| {kind} | {len(lst)} | {e:.1e} ({e32:.1e}) | {name} |")
            if not e <= max(tol, 4 * e32):
                failures.append(f"after: {kind} off by {e:.2e} ({name}; torch float32 {e32:.2e})")
    else:
        failures.append("no after.safetensors")

    for f in failures:
        print("MISMATCH " + f)
    print("parity: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
