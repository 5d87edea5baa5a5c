#!/usr/bin/python3
"""Read a typegrad weight file (safetensors) back into a PyTorch nn.Sequential.

The architecture comes from the file's "typegrad.architecture" metadata, e.g.
"input<5>,dense<7,tanh>,dense<3,relu>,dense<2,identity>", which becomes
nn.Sequential(Linear(5, 7), Tanh(), Linear(7, 3), ReLU(), Linear(3, 2)) (an identity layer has
no activation module), and the tensors are loaded with load_state_dict(strict=True). The model
has the file's dtype (float32 for F32, float64 for F64).

Usage as a script:
    /usr/bin/python3 tools/import_pytorch.py FILE.safetensors [--save MODEL.pt] [--eval "x1,x2,..."]
or from Python:
    from import_pytorch import import_sequential
    model, metadata = import_sequential("model.safetensors")
"""

import argparse
import json
import math
import re
import struct
import sys
from fractions import Fraction

import torch
from torch import nn


def read_safetensors(path):
    """(metadata dict, {name: tensor}) of a safetensors file with F32/F64 tensors; checks the layout."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, used = {}, 0
    for name, info in header.items():
        fmt, size, dt = {"F32": ("f", 4, torch.float32), "F64": ("d", 8, torch.float64)}[info["dtype"]]
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if not (0 <= begin <= end <= len(data)) or end - begin != count * size:
            raise ValueError(f"{path}: tensor '{name}' has inconsistent data_offsets {info['data_offsets']}")
        values = struct.unpack(f"<{count}{fmt}", data[begin:end])
        tensors[name] = torch.tensor(values, dtype=dt).reshape(info["shape"])
        used += end - begin
    if used != len(data):
        raise ValueError(f"{path}: tensors use {used} of {len(data)} data bytes")
    return metadata, tensors


def activation_module(name):
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU, "elu": nn.ELU,
              "softplus": nn.Softplus}
    if name in simple:
        return simple[name]()
    if name == "gelu":
        return nn.GELU(approximate="tanh")
    if name == "softmax":
        return nn.Softmax(dim=-1)
    if name == "leaky_relu":
        return nn.LeakyReLU(0.01)
    m = re.fullmatch(r"leaky_relu\((-?\d+)(?:/(\d+))?\)", name)
    if m:
        return nn.LeakyReLU(float(Fraction(int(m.group(1)), int(m.group(2) or 1))))
    raise ValueError(f"activation '{name}' has no PyTorch module here")


def build_sequential(arch):
    """The canonical nn.Sequential of an architecture string (untrained parameters)."""
    m = re.fullmatch(r"input<(\d+)>((?:,dense<\d+,[a-z_]+(?:\(-?\d+(?:/\d+)?\))?>)+)", arch)
    if not m:
        raise ValueError(f"architecture '{arch}' is not input<N>,dense<Out,act>,...")
    modules, width = [], int(m.group(1))
    for out, act in re.findall(r"dense<(\d+),([^>]+)>", m.group(2)):
        modules.append(nn.Linear(width, int(out)))
        if act != "identity":
            modules.append(activation_module(act))
        width = int(out)
    return nn.Sequential(*modules)


def import_sequential(path):
    """(nn.Sequential with the file's weights, metadata dict)."""
    metadata, tensors = read_safetensors(path)
    if "typegrad.architecture" not in metadata:
        raise ValueError(f"{path}: no 'typegrad.architecture' metadata")
    model = build_sequential(metadata["typegrad.architecture"])
    dtypes = {t.dtype for t in tensors.values()}
    if len(dtypes) != 1:
        raise ValueError(f"{path}: mixed dtypes {dtypes}")
    model = model.to(dtypes.pop())
    model.load_state_dict(tensors, strict=True)
    return model, metadata


def main(argv):
    p = argparse.ArgumentParser(description="Load a typegrad weight file into a PyTorch nn.Sequential.")
    p.add_argument("file", help="the .safetensors file")
    p.add_argument("--save", help="torch.save() the model to this file")
    p.add_argument("--eval", help="comma-separated inputs: print the model's output for them")
    a = p.parse_args(argv)
    model, metadata = import_sequential(a.file)
    print(model)
    for k, v in sorted(metadata.items()):
        print(f"  {k}: {v}")
    if a.eval:
        x = torch.tensor([float(v) for v in a.eval.split(",")], dtype=next(model.parameters()).dtype)
        with torch.no_grad():
            print(model(x).tolist())
    if a.save:
        torch.save(model, a.save)


if __name__ == "__main__":
    main(sys.argv[1:])
