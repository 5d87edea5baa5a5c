#!/usr/bin/python3
"""Export a PyTorch nn.Sequential of Linear + activation layers as a typegrad weight file.

The file is safetensors (written by hand: 8-byte little-endian header length, JSON header,
raw little-endian data) exactly as typegrad::save_weights writes it, so
typegrad::load_weights(net, path) reads it into the matching typegrad::network:

    nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
    <->  typegrad::network<input<30>, dense<16, relu>, dense<1, sigmoid>>

Supported modules after each nn.Linear (at most one): ReLU, Tanh, Sigmoid, Identity (or none),
LeakyReLU (any slope), ELU (alpha=1), Softplus (beta=1), GELU(approximate='tanh'), SiLU,
Softmax(dim=-1). Tensor names follow the *canonical* Sequential: Linear, activation, Linear, ...
where an identity activation takes no module slot (what tools/import_pytorch.py rebuilds), so
e.g. Sequential(Linear, Tanh, Linear) -> 0.weight, 0.bias, 2.weight, 2.bias. A Linear without
bias is exported with a zero bias. Non-finite parameters are refused.

Usage as a script (MODEL.pt is a torch.save()d nn.Sequential):
    /usr/bin/python3 tools/export_pytorch.py MODEL.pt OUT.safetensors [--dtype f32|f64] [--meta KEY=VALUE ...]
or from Python:
    from export_pytorch import export_sequential
    export_sequential(model, "out.safetensors", metadata={"mean": "0.5"})
"""

import argparse
import json
import math
import os
import struct
import sys
from fractions import Fraction

import torch
from torch import nn

TYPEGRAD_VERSION = "0.1.0"  # the weight format version of typegrad::weights_typegrad_version


def activation_name(module):
    """The typegrad architecture name of an activation module (ValueError if unsupported)."""
    if isinstance(module, nn.Identity):
        return "identity"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.Tanh):
        return "tanh"
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    if isinstance(module, nn.SiLU):
        return "silu"
    if isinstance(module, nn.LeakyReLU):
        slope = Fraction(repr(module.negative_slope)).limit_denominator(10**9)
        if slope == Fraction(1, 100):
            return "leaky_relu"
        return f"leaky_relu({slope.numerator})" if slope.denominator == 1 else \
            f"leaky_relu({slope.numerator}/{slope.denominator})"
    if isinstance(module, nn.ELU):
        if module.alpha != 1.0:
            raise ValueError(f"nn.ELU(alpha={module.alpha}): typegrad's elu has alpha = 1")
        return "elu"
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError(f"nn.Softplus(beta={module.beta}): typegrad's softplus has beta = 1")
        return "softplus"
    if isinstance(module, nn.GELU):
        if getattr(module, "approximate", "none") != "tanh":
            raise ValueError("nn.GELU(): typegrad's gelu is the tanh form; use nn.GELU(approximate='tanh')")
        return "gelu"
    if isinstance(module, nn.Softmax):
        if module.dim not in (-1, 1):
            raise ValueError(f"nn.Softmax(dim={module.dim}): typegrad's softmax is over the features (dim=-1)")
        return "softmax"
    raise ValueError(f"unsupported module {module!r}")


def canonical_layers(model):
    """[(linear, activation name)] of an nn.Sequential of Linear + optional activation."""
    modules = list(model.children()) if isinstance(model, nn.Sequential) else None
    if not modules:
        raise ValueError("expected a non-empty nn.Sequential")
    layers = []
    k = 0
    while k < len(modules):
        linear = modules[k]
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"module {k}: expected nn.Linear, got {linear!r}")
        k += 1
        act = "identity"
        if k < len(modules) and not isinstance(modules[k], nn.Linear):
            act = activation_name(modules[k])
            k += 1
        if layers and layers[-1][0].out_features != linear.in_features:
            raise ValueError(f"nn.Linear {len(layers)} takes {linear.in_features} inputs but the "
                             f"previous one gives {layers[-1][0].out_features}")
        layers.append((linear, act))
    return layers


def architecture_string(layers):
    s = f"input<{layers[0][0].in_features}>"
    for linear, act in layers:
        s += f",dense<{linear.out_features},{act}>"
    return s


def tensor_names(activations):
    """['0.weight', '0.bias', ...]: identity takes no module slot, any other activation one."""
    names, module = [], 0
    for act in activations:
        names += [f"{module}.weight", f"{module}.bias"]
        module += 1 if act == "identity" else 2
    return names


def write_safetensors(path, tensors, metadata, dtype):
    """tensors: [(name, shape, flat list of floats)]; dtype 'F32' or 'F64'. Atomic (temp + rename)."""
    fmt, size = {"F32": ("f", 4), "F64": ("d", 8)}[dtype]
    header = {"__metadata__": dict(metadata)} if metadata else {}
    data, offset = [], 0
    for name, shape, values in tensors:
        for v in values:
            if not math.isfinite(v):
                raise ValueError(f"tensor '{name}' holds {v}; typegrad refuses non-finite weights")
        blob = struct.pack(f"<{len(values)}{fmt}", *values)
        assert len(blob) == size * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
        data.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # data area 8-byte aligned, as the reference writer does
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in data:
            f.write(blob)
    os.replace(tmp, path)


def export_sequential(model, path, metadata=None, dtype=None):
    """Writes `model` (an nn.Sequential of Linear + activation) to `path` for typegrad.

    dtype: 'F32' or 'F64' (default: F64 if the model's parameters are float64, else F32).
    metadata: extra string -> string entries (keys starting with 'typegrad.' are reserved).
    Returns the architecture string."""
    layers = canonical_layers(model)
    if dtype is None:
        dtype = "F64" if layers[0][0].weight.dtype == torch.float64 else "F32"
    if dtype not in ("F32", "F64"):
        raise ValueError(f"dtype {dtype!r}: typegrad networks are F32 or F64")
    arch = architecture_string(layers)
    meta = {str(k): str(v) for k, v in (metadata or {}).items() if not str(k).startswith("typegrad.")}
    meta.setdefault("format", "pt")
    meta["typegrad.architecture"] = arch
    meta["typegrad.version"] = TYPEGRAD_VERSION
    meta["typegrad.exporter"] = f"tools/export_pytorch.py (torch {torch.__version__})"
    names = tensor_names([act for _, act in layers])
    tensors = []
    to = torch.float64 if dtype == "F64" else torch.float32
    for k, (linear, _) in enumerate(layers):
        w = linear.weight.detach().to("cpu", to).contiguous()
        b = torch.zeros(linear.out_features, dtype=to) if linear.bias is None else linear.bias.detach().to("cpu", to)
        tensors.append((names[2 * k], [linear.out_features, linear.in_features], w.flatten().tolist()))
        tensors.append((names[2 * k + 1], [linear.out_features], b.flatten().tolist()))
    write_safetensors(path, tensors, meta, dtype)
    return arch


def main(argv):
    p = argparse.ArgumentParser(description="Export a torch.save()d nn.Sequential for typegrad::load_weights.")
    p.add_argument("model", help="a file written by torch.save(model) holding an nn.Sequential")
    p.add_argument("out", help="the .safetensors file to write")
    p.add_argument("--dtype", choices=["f32", "f64"], help="default: the model's own dtype")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="extra metadata")
    a = p.parse_args(argv)
    model = torch.load(a.model, map_location="cpu")
    meta = dict(kv.split("=", 1) for kv in a.meta)
    arch = export_sequential(model, a.out, meta, a.dtype.upper() if a.dtype else None)
    print(f"{a.out}: {arch}")


if __name__ == "__main__":
    main(sys.argv[1:])
