#!/usr/bin/python3
"""Read a typegrad weight file (safetensors) back into a PyTorch nn.Sequential.

The architecture comes from the file's "typegrad.architecture" metadata (the grammar is in
tools/export_pytorch.py's docstring), e.g. "input<5>,dense<7,tanh>,dense<3,relu>,dense<2,identity>",
which becomes nn.Sequential(Linear(5, 7), Tanh(), Linear(7, 3), ReLU(), Linear(3, 2)) (an identity
layer has no activation module), and the tensors are loaded with load_state_dict(strict=True). Each
layer becomes the canonical modules export_pytorch.py reads: dense -> Linear [+ activation],
conv1d/conv2d -> Conv1d/Conv2d (padding numbers or 'same'; causal -> export_pytorch.CausalConv1d)
[+ activation], batch_norm -> BatchNorm1d (on (C) or (C, L)) / BatchNorm2d (on (C, H, W))
[+ activation], max_pool1d/2d and avg_pool1d/2d -> MaxPool/AvgPool (kernel, stride),
global_avg_pool -> AdaptiveAvgPool1d(1) / AdaptiveAvgPool2d(1) + Flatten, flatten -> Flatten,
unflatten<...> -> Unflatten(1, (...)), rnn/rnn_relu/gru/lstm<H> -> nn.RNN/GRU/LSTM(batch_first=True)
in an export_pytorch.RecurrentSequential, transpose/last_step -> export_pytorch.Transpose/LastStep. The model has the file's dtype (float32 for F32, float64
for F64) and is in training mode, as a new PyTorch module is (call .eval() for batch norm's
running statistics); a batch norm whose num_batches_tracked is not in the file gets 0.

Usage as a script:
    /usr/bin/python3 tools/import_pytorch.py FILE.safetensors [--save MODEL.pt] [--eval "x1,x2,..."]
or from Python:
    from import_pytorch import import_sequential
    model, metadata = import_sequential("model.safetensors")
"""

import argparse
import json
import math
import os
import re
import struct
import sys
from fractions import Fraction

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_pytorch import CausalConv1d, LastStep, RecurrentSequential, Transpose  # noqa: E402


def read_safetensors(path):
    """(metadata dict, {name: tensor}) of a safetensors file with F32/F64/I64 tensors; checks the layout."""
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
        fmt, size, dt = {"F32": ("f", 4, torch.float32), "F64": ("d", 8, torch.float64),
                         "I64": ("q", 8, torch.int64)}[info["dtype"]]
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


ACT = r"[a-z_]+(?:\(-?\d+(?:/\d+)?\))?"
NUM = r"[-+0-9.eE]+"


def architecture_parts(arch):
    """The top-level comma-separated entries of an architecture string."""
    parts, depth = [""], 0
    for k, c in enumerate(arch):
        depth += (c in "<([") - (c in ")]" or (c == ">" and arch[k - 1:k] != "-"))  # "->" is no bracket
        if c == "," and depth == 0:
            parts.append("")
        else:
            parts[-1] += c
    return parts


def layer_modules(entry, x):
    """The canonical modules of one architecture entry, given an example input x of its input shape."""
    def with_act(module, act):
        return [module] if act == "identity" else [module, activation_module(act)]

    rank = x.dim() - 1  # without the batch axis
    m = re.fullmatch(rf"dense<(\d+),({ACT})>", entry)
    if m:
        return with_act(nn.Linear(x.shape[-1], int(m.group(1))), m.group(2))
    if entry == "flatten":
        return [nn.Flatten()]
    m = re.fullmatch(r"unflatten<(\d+(?:,\d+)*)>", entry)
    if m:
        if rank != 1:
            raise ValueError(f"'{entry}' reshapes a shaped input {tuple(x.shape[1:])}: no single PyTorch module")
        return [nn.Unflatten(1, tuple(int(v) for v in m.group(1).split(",")))]
    m = re.fullmatch(rf"conv1d<(\d+),(\d+),({ACT}),stride<(\d+)>,padding<(\d+|same|causal)>,dilation<(\d+)>,"
                     rf"groups<(\d+)>>", entry)
    if m:
        out, k, act, s, p, d, g = m.groups()
        if p == "causal":
            conv = CausalConv1d(x.shape[1], int(out), int(k), stride=int(s), dilation=int(d), groups=int(g))
        else:
            conv = nn.Conv1d(x.shape[1], int(out), int(k), stride=int(s), padding=p if p == "same" else int(p),
                             dilation=int(d), groups=int(g))
        return with_act(conv, act)
    m = re.fullmatch(rf"conv2d<(\d+),(\d+),(\d+),({ACT}),stride<(\d+),(\d+)>,padding<(\d+,\d+|same)>,"
                     rf"dilation<(\d+),(\d+)>,groups<(\d+)>>", entry)
    if m:
        out, kh, kw, act, sh, sw, p, dh, dw, g = m.groups()
        pad = p if p == "same" else tuple(int(v) for v in p.split(","))
        conv = nn.Conv2d(x.shape[1], int(out), (int(kh), int(kw)), stride=(int(sh), int(sw)), padding=pad,
                         dilation=(int(dh), int(dw)), groups=int(g))
        return with_act(conv, act)
    m = re.fullmatch(r"(max|avg)_pool([12])d<(\d+),(\d+)>", entry)
    if m:
        kind, dims, k, s = m.groups()
        cls = {("max", "1"): nn.MaxPool1d, ("max", "2"): nn.MaxPool2d,
               ("avg", "1"): nn.AvgPool1d, ("avg", "2"): nn.AvgPool2d}[kind, dims]
        return [cls(int(k), int(s))]
    if entry == "global_avg_pool":
        if rank not in (2, 3):
            raise ValueError(f"global_avg_pool on an input of shape {tuple(x.shape[1:])}")
        return [nn.AdaptiveAvgPool1d(1) if rank == 2 else nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    m = re.fullmatch(rf"batch_norm<({ACT})(?:,eps<({NUM})>,momentum<({NUM})>)?>", entry)
    if m:
        act, eps, momentum = m.groups()
        cls = nn.BatchNorm2d if rank == 3 else nn.BatchNorm1d
        bn = cls(x.shape[1], eps=float(eps or 1e-5), momentum=float(momentum or 0.1))
        return with_act(bn, act)
    m = re.fullmatch(r"(rnn|rnn_relu|gru|lstm)<(\d+)>", entry)
    if m:
        if rank != 2:
            raise ValueError(f"'{entry}' needs a (Steps, Features) input, got {tuple(x.shape[1:])}")
        kind, hidden = m.group(1), int(m.group(2))
        if kind.startswith("rnn"):
            return [nn.RNN(x.shape[-1], hidden, nonlinearity="relu" if kind == "rnn_relu" else "tanh",
                           batch_first=True)]
        return [(nn.GRU if kind == "gru" else nn.LSTM)(x.shape[-1], hidden, batch_first=True)]
    if entry == "transpose":
        return [Transpose()]
    if entry == "last_step":
        return [LastStep()]
    if entry.startswith("layer("):
        raise ValueError(f"'{entry}': this typegrad layer does not describe itself (no describe()), so there is "
                         "no PyTorch module for it")
    raise ValueError(f"'{entry}' is not a layer tools/import_pytorch.py knows")


def build_sequential(arch):
    """The canonical nn.Sequential of an architecture string (untrained parameters)."""
    parts = architecture_parts(arch)
    m = re.fullmatch(r"input<(\d+)>", parts[0])
    if not m or len(parts) < 2:
        raise ValueError(f"architecture '{arch}' is not input<N>,layer,...")
    modules = []
    x = torch.zeros(2, int(m.group(1)))
    for k, entry in enumerate(parts[1:]):
        try:
            new = layer_modules(entry, x)
            with torch.no_grad():
                for module in new:
                    x = module.eval()(x)
                    if isinstance(x, tuple):  # a recurrent module's (output, state)
                        x = x[0]
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"architecture '{arch}', layer {k}: {e}") from None
        modules += new
    recurrent = any(isinstance(m, (nn.RNN, nn.GRU, nn.LSTM)) for m in modules)
    return (RecurrentSequential if recurrent else nn.Sequential)(*modules).train()


def import_sequential(path):
    """(nn.Sequential with the file's weights, metadata dict)."""
    metadata, tensors = read_safetensors(path)
    if "typegrad.architecture" not in metadata:
        raise ValueError(f"{path}: no 'typegrad.architecture' metadata")
    model = build_sequential(metadata["typegrad.architecture"])
    dtypes = {t.dtype for t in tensors.values() if t.is_floating_point()}
    if len(dtypes) > 1:
        raise ValueError(f"{path}: mixed dtypes {dtypes}")
    if dtypes:
        model = model.to(dtypes.pop())
    for name, t in model.state_dict().items():
        if name.endswith(".num_batches_tracked") and name not in tensors:
            tensors[name] = torch.zeros_like(t)  # written by an older tool: PyTorch's initial count
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
        dtype = next(model.parameters()).dtype
        x = torch.tensor([[float(v) for v in a.eval.split(",")]], dtype=dtype)
        with torch.no_grad():
            print(model.eval()(x)[0].tolist())
    if a.save:
        torch.save(model, a.save)


if __name__ == "__main__":
    main(sys.argv[1:])
