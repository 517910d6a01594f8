#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Train a torchvision ResNet on a Hepascope export tree with DistributedDataParallel.

For teams that outgrow one workstation: run it with torchrun on GPUs or a cluster, then bring the
result back into Hepascope with `hepascope-cli convert OUT.pth MODEL.safetensors --classes ...`.
Preprocessing follows Hepascope's model card defaults (grayscale to 3 channels, stretch resize,
ImageNet mean/std); augmentation follows the seed paper (x/y translation, horizontal flip).

    torchrun --nproc_per_node=4 tests/torch/hepascope_ddp.py --data EXPORT --out model.pth
    hepascope-cli convert model.pth model.safetensors --arch resnet50 --classes "$(cat model.pth.classes)"

Not for diagnosis.
"""
import argparse
import os
import sys

import torch
import torch.distributed as dist
import torchvision
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from torchvision import transforms


def export_classes(root):
    # The export tree also holds native/ and frames/; class folders are the others with crops.
    skip = {"native", "frames"}
    return sorted(d for d in os.listdir(root)
                  if d not in skip and os.path.isdir(os.path.join(root, d)))


class ExportTree(torchvision.datasets.ImageFolder):
    def find_classes(self, directory):
        classes = export_classes(directory)
        if not classes:
            raise FileNotFoundError(f"{directory}: no class folders")
        return classes, {c: i for i, c in enumerate(classes)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="export tree: <class>/*.png")
    p.add_argument("--out", required=True, help="state dict to write (.pth)")
    p.add_argument("--arch", default="resnet50", choices=["resnet50", "resnet18"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--batch", type=int, default=32, help="per process")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--init", default="", help="a torchvision .pth to start from (head replaced)")
    args = p.parse_args()

    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
                          if torch.cuda.is_available() else "cpu")

    tf = transforms.Compose([
        transforms.Grayscale(num_output_channels=3),
        transforms.Resize((args.size, args.size)),
        transforms.RandomAffine(degrees=0, translate=(0.1, 0.1)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    data = ExportTree(args.data, transform=tf)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True) if distributed else None
    loader = DataLoader(data, batch_size=args.batch, sampler=sampler, shuffle=sampler is None,
                        num_workers=2, drop_last=False)

    model = getattr(torchvision.models, args.arch)(weights=None)
    if args.init:
        state = torch.load(args.init, map_location="cpu")
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        model.load_state_dict(state, strict=False)
    model.fc = torch.nn.Linear(model.fc.in_features, len(data.classes))
    model.to(device)
    if distributed:
        model = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()

    step = 0
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            step += 1
            if rank == 0:
                print(f"epoch {epoch + 1} step {step} loss {loss.item():.4f}", flush=True)
            if args.steps and step >= args.steps:
                break
        if args.steps and step >= args.steps:
            break

    if rank == 0:
        net = model.module if distributed else model
        torch.save(net.state_dict(), args.out)
        with open(args.out + ".classes", "w") as f:
            f.write(",".join(data.classes) + "\n")
        print(f"wrote {args.out} ({args.arch}, classes {','.join(data.classes)})")
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
