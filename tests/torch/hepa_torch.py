# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pieces of the PyTorch cross-checks: a safetensors reader (the safetensors package is not
needed), the model builder and an export-tree reader.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14).
"""
import json
import os
import struct

import numpy as np
import torch
import torchvision

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
           "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """Returns ({name: numpy array}, metadata dict) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dt = np.dtype(_DTYPES[info["dtype"]])
        begin, end = info["data_offsets"]
        arr = np.frombuffer(blob, dtype=dt, count=(end - begin) // dt.itemsize,
                            offset=base + begin)
        tensors[name] = arr.reshape(info["shape"]).copy()
    return tensors, meta


def make_model(arch, n_classes, zero_init_residual=False):
    """A torchvision ResNet with its own default initialisation."""
    return getattr(torchvision.models, arch)(weights=None, num_classes=n_classes,
                                             zero_init_residual=zero_init_residual)


def load_state(model, tensors):
    """Copies every tensor whose name is in the model's state dict; returns the names it set."""
    state = model.state_dict()
    done = []
    for name, value in tensors.items():
        if name in state:
            if tuple(state[name].shape) != tuple(value.shape):
                raise ValueError(f"{name}: shape {value.shape}, model wants {tuple(state[name].shape)}")
            state[name].copy_(torch.from_numpy(value).to(state[name].dtype))
            done.append(name)
    missing = [k for k in state if k not in done and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(f"tensors missing from the file: {missing[:5]}")
    return done


def export_classes(root):
    """Class folders of an export tree, in Hepascope's order (the manifest's when present)."""
    skip = {"native", "frames"}
    dirs = sorted(d for d in os.listdir(root)
                  if d not in skip and os.path.isdir(os.path.join(root, d)))
    mpath = os.path.join(root, "manifest.json")
    if os.path.exists(mpath):
        with open(mpath) as f:
            m = json.load(f)
        order = m.get("classes") or []
        if order:
            dirs = [c for c in order if c in dirs]
    return dirs


def read_tree(root, size, classes=None):
    """Every image of an export tree as grayscale uint8 (n, size, size), resized as torchvision's
    Resize((size, size)) does (PIL bilinear), with labels (n,) and relative paths."""
    from PIL import Image

    classes = classes or export_classes(root)
    images, labels, rels = [], [], []
    for c, name in enumerate(classes):
        cdir = os.path.join(root, name)
        if not os.path.isdir(cdir):
            continue
        for fname in sorted(os.listdir(cdir)):
            if fname.startswith(".") or not fname.lower().endswith((".png", ".jpg", ".jpeg")):
                continue
            img = Image.open(os.path.join(cdir, fname)).convert("L")
            if img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            images.append(np.asarray(img, dtype=np.uint8))
            labels.append(c)
            rels.append(f"{name}/{fname}")
    return np.stack(images), np.array(labels, dtype=np.int64), rels, classes
