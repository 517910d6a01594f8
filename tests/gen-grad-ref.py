#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference gradients of torchvision resnet18 in training mode, for tests/core/test-nn-grad.c.

Run with Debian's interpreter (python3-torch 1.13, torchvision 0.14):
    /usr/bin/python3 tests/gen-grad-ref.py tests/fixtures/grad/resnet18-grad.json

Weight recipe (the C test builds the same network from the same numbers):
  u(seed, j) = hepa_nn_seeded_uniform(seed, j) of core/nn/hepa-nn-rand.c:
      r = splitmix64(splitmix64(seed) ^ j);  u = (r >> 40) * 2^-24 * 2 - 1   (in [-1, 1))
  Tensor t (its position in the state_dict, num_batches_tracked skipped), element j (row-major),
  with v = u(1000 + t, j):
      conv and fc weights   v * sqrt(3 / fan_in)      (fan_in = product of shape[1:])
      bn weight             1 + 0.25 v
      bn bias               0.25 v
      bn running_mean       0.1 v
      bn running_var        1 + 0.25 (v + 1)
      fc bias               0.1 v
  Input (2, 3, 64, 64): u(7, j) in NCHW order. Labels [0, 2]; 3 classes.
The model runs in float64 in training mode (batch statistics, running averages updated with
momentum 0.1); the loss is the mean cross-entropy. The fixture holds the loss, the logits, and
slices of some gradients and of the running statistics after the forward pass.
"""
import json
import sys

import numpy as np
import torch
import torchvision

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(z):
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def seeded_uniform(seed, n):
    s = splitmix64(np.array([seed], dtype=np.uint64))[0]
    idx = np.arange(n, dtype=np.uint64)
    r = splitmix64(idx ^ s)
    v = (r >> np.uint64(40)).astype(np.float64) * (1.0 / 16777216.0) * 2.0 - 1.0
    return v.astype(np.float32)


def recipe_tensor(t, name, shape):
    n = int(np.prod(shape))
    v = seeded_uniform(1000 + t, n).reshape(shape)
    f32 = np.float32
    if name.endswith("running_mean"):
        return f32(0.1) * v
    if name.endswith("running_var"):
        return f32(1) + f32(0.25) * (v + f32(1))
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return v * np.sqrt(f32(3) / f32(fan_in), dtype=np.float32)
    if name.startswith("fc."):
        return f32(0.1) * v
    if name.endswith("weight"):
        return f32(1) + f32(0.25) * v
    return f32(0.25) * v


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/grad/resnet18-grad.json"
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    sd = model.state_dict()
    new = {}
    t = 0
    for name, tensor in sd.items():
        if name.endswith("num_batches_tracked"):
            new[name] = tensor
            continue
        new[name] = torch.from_numpy(recipe_tensor(t, name, tuple(tensor.shape)).copy())
        t += 1
    model.load_state_dict(new)
    model = model.double().train()

    x = torch.from_numpy(seeded_uniform(7, 2 * 3 * 64 * 64).reshape(2, 3, 64, 64)).double()
    labels = torch.tensor([0, 2])
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()

    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())

    def grad(name, count=None):
        g = params[name].grad.detach().flatten().numpy()
        return {"name": name, "kind": "grad", "values": g[: count or g.size].tolist()}

    def buf(name):
        return {"name": name, "kind": "data", "values": buffers[name].flatten().numpy().tolist()}

    ref = {
        "generator": "tests/gen-grad-ref.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "arch": "resnet18",
        "batch": 2,
        "size": 64,
        "n_classes": 3,
        "labels": labels.tolist(),
        "loss": loss.item(),
        "logits": logits.detach().flatten().numpy().tolist(),
        "tensors": [
            grad("conv1.weight"),
            grad("bn1.weight"),
            grad("bn1.bias"),
            grad("layer1.0.conv1.weight", 2048),
            grad("layer1.0.bn1.weight"),
            grad("layer1.0.bn1.bias"),
            grad("layer2.0.downsample.0.weight", 2048),
            grad("layer2.0.downsample.1.weight"),
            grad("layer3.1.bn2.bias"),
            grad("layer4.1.conv2.weight", 4096),
            grad("layer4.1.bn2.weight"),
            grad("fc.weight"),
            grad("fc.bias"),
            buf("bn1.running_mean"),
            buf("bn1.running_var"),
            buf("layer4.1.bn2.running_var"),
        ],
    }
    with open(out, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
