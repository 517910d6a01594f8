#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The torchvision reference for Hepascope's trainer: the seed study's protocol as PyTorch users
write it, to compare learning curves with `hepascope-cli train` (issue 27).

    /usr/bin/python3 tests/torch/train_reference.py --train TREE --val HELDOUT --arch resnet18 \\
        --size 64 --epochs 15 --lr 0.01

Protocol: grayscale crops (stretched to SIZE x SIZE, replicated to 3 channels, ImageNet mean/std);
classes balanced by oversampling: each class below the largest is filled up with copies of its
images drawn at random, each copy rescaled once about its centre by a factor uniform in
[1 - rescale, 1 + rescale] (bilinear, black outside); every epoch every image is translated by
RandomAffine(translate=(t, t)) (whole pixels, nearest, black fill) and flipped horizontally with
p = 0.5; torchvision's resnet18/resnet50 from scratch with its default initialisation
(zero_init_residual off unless asked); SGD with momentum and weight decay on every parameter,
constant learning rate, mean cross-entropy, shuffled batches (the last one partial). Training
accuracy is counted on the augmented batches as they are trained (as Hepascope does); the held-out
tree is evaluated after every epoch in eval mode. One JSON line per epoch on stdout.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hepa_torch import make_model, read_tree  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def to_input(u8):
    """(n, 1, s, s) uint8 -> (n, 3, s, s) normalized float."""
    x = u8.float().div(255.0).expand(-1, 3, -1, -1)
    return (x - MEAN) / STD


def balance(images, labels, rescale, gen):
    """Originals, then the copies that fill every class up to the largest (rescaled once)."""
    counts = np.bincount(labels)
    extra_x, extra_y = [], []
    for c, n in enumerate(counts):
        members = np.flatnonzero(labels == c)
        for _ in range(counts.max() - n if n > 0 else 0):
            i = members[int(torch.randint(len(members), (1,), generator=gen))]
            s = 1.0 + rescale * (2.0 * float(torch.rand(1, generator=gen)) - 1.0)
            img = TF.affine(images[i], angle=0.0, translate=[0, 0], scale=s, shear=[0.0],
                            interpolation=transforms.InterpolationMode.BILINEAR, fill=0.0)
            extra_x.append(img)
            extra_y.append(c)
    if extra_x:
        images = torch.cat([images, torch.stack(extra_x)])
        labels = np.concatenate([labels, np.array(extra_y, dtype=np.int64)])
    return images, labels


def evaluate(model, x, y, batch):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            z = model(to_input(x[i:i + batch]))
            t = torch.from_numpy(y[i:i + batch])
            loss += torch.nn.functional.cross_entropy(z, t, reduction="sum").item()
            correct += (z.argmax(1) == t).sum().item()
    model.train()
    return loss / len(y), correct / len(y)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", required=True, help="export tree: <class>/*.png")
    p.add_argument("--val", help="held-out tree, evaluated after every epoch")
    p.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet50"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--translate", type=float, default=0.1)
    p.add_argument("--rescale", type=float, default=0.1, help="balancing copies, drawn once")
    p.add_argument("--no-balance", action="store_true")
    p.add_argument("--zero-init-residual", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images, labels, _, classes = read_tree(args.train, args.size)
    x = torch.from_numpy(images).unsqueeze(1)
    y = labels
    if not args.no_balance:
        x, y = balance(x, y, args.rescale, gen)
    if args.val:
        vimages, vlabels, _, _ = read_tree(args.val, args.size, classes)
        vx = torch.from_numpy(vimages).unsqueeze(1)
    model = make_model(args.arch, len(classes), args.zero_init_residual)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay)
    aug = transforms.Compose([
        transforms.RandomAffine(degrees=0, translate=(args.translate, args.translate)),
        transforms.RandomHorizontalFlip(),
    ])
    t0 = time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(y), generator=gen).numpy()
        loss_sum, correct = 0.0, 0
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            xb = to_input(torch.stack([aug(x[j]) for j in idx]))
            yb = torch.from_numpy(y[idx])
            opt.zero_grad()
            z = model(xb)
            loss = torch.nn.functional.cross_entropy(z, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (z.argmax(1) == yb).sum().item()
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / len(y), "train_acc": correct / len(y),
               "n_train": int(len(y)), "seconds": round(time.time() - t0, 1)}
        if args.val:
            rec["val_loss"], rec["val_acc"] = evaluate(model, vx, vlabels, args.batch)
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
