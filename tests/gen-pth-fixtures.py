#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the small PyTorch checkpoints in tests/fixtures/pth/ that tests/core/test-pth.c reads,
and, with --resnet18 OUT, a torchvision resnet18 state dict with the seeded weights of
tests/gen-resnet-ref.py (for the slow test; 45 MB, never committed).

Needs torch 1.13 (Debian's /usr/bin/python3): /usr/bin/python3 tests/gen-pth-fixtures.py

Values are chosen exactly representable in float16 and bfloat16, so the test can state them:
base[i] = i * 0.25 - 1 for i in 0..11, shape (3, 4).
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "pth")


def base():
    return torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1.0


def tiny_state_dict():
    sd = collections.OrderedDict()
    sd["w32"] = base()
    sd["w16"] = base().half()
    sd["wbf16"] = base().bfloat16()
    sd["transposed"] = base().t()                  # (4, 3), strides (1, 4)
    sd["slice"] = base()[1:, 1:3]                  # (2, 2), offset 5, strides (4, 1)
    shared = torch.arange(12, dtype=torch.float32) * 0.5
    sd["shared_a"] = shared[0:6].view(2, 3)        # one storage for both
    sd["shared_b"] = shared[6:12]
    sd["half_strided"] = base().half()[:, ::2]     # (3, 2), strides (4, 2), float16
    sd["expanded"] = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)   # stride 0
    sd["scalar"] = torch.tensor(3.5)
    sd["param"] = torch.nn.Parameter(base() + 10.0)
    sd["bn.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    return sd


def small_net():
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.full((2, 1, 1, 1), 0.5)
    sd["conv.bias"] = torch.tensor([1.0, -1.0])
    sd["bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)
    return sd


def save(obj, name, **kwargs):
    torch.save(obj, os.path.join(OUT, name), **kwargs)


class Call:
    """Pickles as a call of @func(*args)."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def write_zip(name, entries):
    """A stored zip like torch.save's, from (name, bytes) pairs."""
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_STORED) as z:
        for entry, data in entries:
            # A fixed date keeps regenerated fixtures byte-identical.
            z.writestr(zipfile.ZipInfo(entry, date_time=(2020, 1, 1, 0, 0, 0)), data)


def write_zip64(name, entries):
    """A stored zip where every size and offset goes through the ZIP64 extra fields and the ZIP64
    end of central directory record, as large checkpoints do."""
    out = io.BytesIO()
    central = []
    for entry, data in entries:
        fname = entry.encode()
        crc = zipfile.crc32(data) & 0xFFFFFFFF
        offset = out.tell()
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc,
                              0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(extra)))
        out.write(fname + extra + data)
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                                   0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(cextra), 0, 0, 0, 0,
                                   0xFFFFFFFF) + fname + cextra)
    cd_offset = out.tell()
    for c in central:
        out.write(c)
    cd_size = out.tell() - cd_offset
    z64 = out.tell()
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries),
                          cd_size, cd_offset))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, z64, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(out.getvalue())


def resnet18(path):
    sys.path.insert(0, HERE)
    import importlib
    ref = importlib.import_module("gen-resnet-ref")
    model = ref.build(18, 5)
    torch.save(model.state_dict(), path)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--resnet18":
        resnet18(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    save(tiny_state_dict(), "tiny.pth")
    # A training checkpoint: the weights inside "state_dict", DataParallel "module." prefixes.
    dp = collections.OrderedDict(("module." + k, v) for k, v in small_net().items())
    save({"epoch": 3, "arch": "net", "state_dict": dp, "best_acc1": 0.5,
          "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}},
         "wrapped.pth")
    save({"model": dict(small_net()), "step": 10}, "model.pth")
    save(small_net(), "legacy.pth", _use_new_zipfile_serialization=False)
    save({"w": torch.ones(2, dtype=torch.float64)}, "float64.pth")
    # torch.save (model) instead of its state dict: classes we must not import.
    save(torch.nn.Sequential(torch.nn.Linear(2, 1)), "whole-model.pth")
    save({"ids": torch.arange(3)}, "int64.pth")

    # Hostile data.pkl files in an otherwise well-formed archive.
    # pickle.dumps(os.system) names posix.system on Linux; write what an attacker would.
    write_zip("os-system.pth", [("archive/data.pkl",
                                 b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R."),
                                ("archive/version", b"3\n")])
    write_zip("eval.pth", [("archive/data.pkl",
                            b"\x80\x02}X\x01\x00\x00\x00xcbuiltins\neval\nX\x03\x00\x00\x00"
                            b"1+1\x85Rs.")])
    # The same call as pickle.dumps writes it on Linux (posix.system), with protocol 4 opcodes.
    write_zip("posix-system.pth", [("archive/data.pkl",
                                    pickle.dumps(Call(os.system, ("echo pwned",)), protocol=4))])
    # _load_from_bytes would run torch.load on embedded bytes: not on the list.
    write_zip("load-from-bytes.pth", [("archive/data.pkl",
                                       b"\x80\x02ctorch.storage\n_load_from_bytes\nq\x00C\x01xq\x01"
                                       b"\x85q\x02Rq\x03.")])
    # BINUNICODE claiming 4 GB in a 20-byte pickle.
    write_zip("oversize.pth", [("archive/data.pkl", b"\x80\x02}q\x00X\xf0\xff\xff\xff" + b"a" * 8
                                + b".")])
    # Allowed callable, wrong use: REDUCE of a storage type.
    write_zip("call-storage.pth", [("archive/data.pkl", b"\x80\x02ctorch\nFloatStorage\n)R.")])

    # The tiny checkpoint again, repackaged with ZIP64 records and an "archive/" prefix.
    with zipfile.ZipFile(os.path.join(OUT, "tiny.pth")) as z:
        entries = [("archive/" + i.filename.split("/", 1)[1], z.read(i)) for i in z.infolist()]
    write_zip64("tiny-zip64.pth", entries)

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %s (%d bytes) with torch %s" % (OUT, total, torch.__version__), file=sys.stderr)


if __name__ == "__main__":
    main()
