#!/usr/bin/python3
"""Export a PyTorch nn.Sequential as a typegrad weight file.

The file is safetensors (written by hand: 8-byte little-endian header length, JSON header,
raw little-endian data) exactly as typegrad::save_weights writes it, so
typegrad::load_weights(net, path) reads it into the matching typegrad::network:

    nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
    <->  typegrad::network<input<30>, dense<16, relu>, dense<1, sigmoid>>

    nn.Sequential(nn.Unflatten(1, (2, 9, 8)), nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    <->  typegrad::network<input<144>, unflatten<2, 9, 8>, conv2d<4, 3, 3, identity, padding<1>>,
                           batch_norm<relu>, max_pool2d<2>, flatten, dense<3>>

Supported modules (a typegrad network takes a flat input: the model starts with nn.Linear or
nn.Unflatten(1, (C, L)) / nn.Unflatten(1, (C, H, W))):
  nn.Linear, nn.Conv1d, nn.Conv2d (stride, padding as numbers or 'same', dilation, groups;
  padding_mode 'zeros'), CausalConv1d (below), nn.BatchNorm1d / nn.BatchNorm2d (with running
  statistics), each followed by at most one activation: ReLU, Tanh, Sigmoid, Identity (or none),
  LeakyReLU (any slope), ELU (alpha=1), Softplus (beta=1), GELU(approximate='tanh'), SiLU,
  Softmax(dim=-1);
  nn.MaxPool1d/2d and nn.AvgPool1d/2d (no padding, floor mode; 2-d windows and strides square),
  nn.AdaptiveAvgPool1d(1) / nn.AdaptiveAvgPool2d(1) followed by nn.Flatten() (typegrad's
  global_avg_pool: two modules), nn.Flatten(), nn.Unflatten(1, sizes), nn.Identity (dropped);
  nn.RNN (tanh or relu), nn.GRU, nn.LSTM (batch_first=True, num_layers=1: stack them as modules in
  a row; their models are RecurrentSequential, below, which drops each module's final state),
  Transpose and LastStep (below: typegrad's transpose and last_step).
A causal convolution is one module, CausalConv1d (an nn.Conv1d that pads (K-1)*D zeros on the
left itself), so that its state_dict names are those of typegrad's conv1d with causal padding;
nn.ConstantPad1d(((K-1)*D, 0), 0) followed by nn.Conv1d(padding=0) is folded into one.

Tensor names follow the *canonical* Sequential that tools/import_pytorch.py rebuilds: each layer
takes one module index, plus one for a non-identity activation (an identity activation takes no
module slot), global_avg_pool two; so e.g. Sequential(Linear, Tanh, Linear) -> 0.weight, 0.bias,
2.weight, 2.bias. A Linear or Conv without bias is exported with a zero bias, a BatchNorm without
affine with weight 1 and bias 0. BatchNorm's num_batches_tracked is written as an I64 scalar.
Non-finite parameters are refused.

The architecture string ("typegrad.architecture") lists "input<N>" and one entry per layer:
  dense<Out,act>   flatten   unflatten<D1,D2,...>   global_avg_pool
  rnn<H>   rnn_relu<H>   gru<H>   lstm<H>   transpose   last_step
  conv1d<Out,K,act,stride<S>,padding<P>,dilation<D>,groups<G>>   (P a number, same or causal)
  conv2d<Out,KH,KW,act,stride<SH,SW>,padding<PH,PW>,dilation<DH,DW>,groups<G>>   (or padding<same>)
  (padding is canonical: numbers whenever both sides get the same zeros, so padding='same' with an
  odd kernel is written as numbers; same only for PyTorch's uneven split; causal = (K-1)*D before)
  max_pool1d<K,S>  avg_pool1d<K,S>  max_pool2d<K,S>  avg_pool2d<K,S>
  batch_norm<act>  (eps 1e-5, momentum 0.1; else batch_norm<act,eps<E>,momentum<M>> with Python's repr)

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
from torch.nn import functional as F

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


class CausalConv1d(nn.Conv1d):
    """nn.Conv1d with causal padding: (K-1)*D zeros before the sequence and none after it, so that
    output t only sees inputs up to t (typegrad's conv1d with causal padding). One module, so its
    state_dict names are those typegrad uses."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1, groups=1, bias=True,
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, dilation=dilation,
                         groups=groups, bias=bias, device=device, dtype=dtype)

    def forward(self, x):
        return super().forward(F.pad(x, ((self.kernel_size[0] - 1) * self.dilation[0], 0)))


class RecurrentSequential(nn.Sequential):
    """nn.Sequential that passes a recurrent module's output sequence on and drops its final state
    (nn.RNN / nn.GRU / nn.LSTM return (output, state)); state_dict names stay "1.weight_ih_l0"."""

    def forward(self, x):
        for m in self:
            x = m(x)
            if isinstance(x, tuple):
                x = x[0]
        return x


class Transpose(nn.Module):
    """typegrad's transpose: swaps the two axes of a (C, L) sample, x.transpose(1, 2)."""

    def forward(self, x):
        return x.transpose(1, 2)


class LastStep(nn.Module):
    """typegrad's last_step: the last step of a (Steps, F) sequence, x[:, -1, :]."""

    def forward(self, x):
        return x[:, -1, :]


def _recurrent_layer(k, m, x):
    """The rnn<H> / rnn_relu<H> / gru<H> / lstm<H> entry of an nn.RNN / nn.GRU / nn.LSTM."""
    if m.num_layers != 1 or m.bidirectional or not m.batch_first or getattr(m, "proj_size", 0):
        raise ValueError(f"module {k}: {m!r}: typegrad's recurrent layers are batch_first, one direction and one "
                         "layer each (num_layers=N is N modules in a row), without proj_size")
    if x.dim() != 3:
        raise ValueError(f"module {k}: {m!r} needs a (Steps, Features) input, got {tuple(x.shape[1:])}")
    if isinstance(m, nn.GRU):
        kind = "gru"
    elif isinstance(m, nn.LSTM):
        kind = "lstm"
    else:
        kind = "rnn" if m.nonlinearity == "tanh" else "rnn_relu"
    tensors = [(n, getattr(m, n)) for n in ("weight_ih_l0", "weight_hh_l0")]
    for n in ("bias_ih_l0", "bias_hh_l0"):  # without bias: zeros, as for nn.Linear
        tensors.append((n, getattr(m, n) if m.bias else torch.zeros(m.weight_ih_l0.shape[0], dtype=m.weight_ih_l0.dtype)))
    return Layer(f"{kind}<{m.hidden_size}>", 1, tensors)


ACTIVATIONS = (nn.Identity, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Softplus, nn.GELU,
               nn.Softmax)


class Layer:
    """One typegrad layer of a canonical nn.Sequential: its architecture entry, how many module
    indices it takes, and its tensors [(name after '<module>.', shape, tensor, dtype or None)]."""

    def __init__(self, description, modules, tensors=()):
        self.description, self.modules, self.tensors = description, modules, list(tensors)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _single(v):
    return v[0] if isinstance(v, (tuple, list)) else v


def _all(v, value):
    return all(e == value for e in (v if isinstance(v, (tuple, list)) else (v,)))


def _weight_bias(module):
    b = module.bias if module.bias is not None else torch.zeros(module.out_channels if hasattr(
        module, "out_channels") else module.out_features, dtype=module.weight.dtype)
    return [("weight", module.weight), ("bias", b)]


def _conv_layer(k, conv, act, causal=False):
    """The conv1d<...> / conv2d<...> entry. Padding is canonical, as typegrad describes it from its
    zeros before and after each axis: numbers when both sides are equal (so padding='same' with
    an even total D*(K-1) on every axis is written as numbers), 'same' when PyTorch's 'same'
    split is uneven, 'causal' for (K-1)*D zeros before and none after (0 when K = 1)."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"module {k}: {conv!r}: typegrad pads with zeros (padding_mode='zeros')")
    g = conv.groups
    kernel, stride, dil = tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.dilation)
    totals = [d * (kk - 1) for d, kk in zip(dil, kernel)]
    if causal:
        pad = "causal" if totals[0] else "0"
    elif conv.padding == "valid":
        pad = ",".join("0" for _ in kernel)
    elif conv.padding == "same":
        pad = ",".join(str(t // 2) for t in totals) if all(t % 2 == 0 for t in totals) else "same"
    else:
        pad = ",".join(str(p) for p in conv.padding)
    if isinstance(conv, nn.Conv1d):
        return (f"conv1d<{conv.out_channels},{kernel[0]},{act},stride<{stride[0]}>,padding<{pad}>,"
                f"dilation<{dil[0]}>,groups<{g}>>")
    return (f"conv2d<{conv.out_channels},{kernel[0]},{kernel[1]},{act},stride<{stride[0]},{stride[1]}>,"
            f"padding<{pad}>,dilation<{dil[0]},{dil[1]}>,groups<{g}>>")


def _pool_layer(k, m):
    one_d = isinstance(m, (nn.MaxPool1d, nn.AvgPool1d))
    kind = "max" if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)) else "avg"
    if m.ceil_mode or not _all(m.padding, 0):
        raise ValueError(f"module {k}: {m!r}: typegrad pools without padding, in floor mode")
    if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)) and (not _all(m.dilation, 1) or m.return_indices):
        raise ValueError(f"module {k}: {m!r}: typegrad's max pooling has dilation 1 and returns no indices")
    if isinstance(m, nn.AvgPool2d) and m.divisor_override is not None:
        raise ValueError(f"module {k}: {m!r}: typegrad's average pooling divides by the window size")
    kernel = m.kernel_size
    stride = m.stride if m.stride not in (None, (), []) else kernel
    if one_d:
        return Layer(f"{kind}_pool1d<{_single(kernel)},{_single(stride)}>", 1)
    kh, kw = _pair(kernel)
    sh, sw = _pair(stride)
    if kh != kw or sh != sw:
        raise ValueError(f"module {k}: {m!r}: typegrad's 2-d pooling has a square window and stride")
    return Layer(f"{kind}_pool2d<{kh},{sh}>", 1)


def _batch_norm_layer(k, bn, act):
    if not bn.track_running_stats or bn.running_mean is None:
        raise ValueError(f"module {k}: {bn!r}: typegrad's batch_norm keeps running statistics "
                         "(track_running_stats=True)")
    if bn.momentum is None:
        raise ValueError(f"module {k}: {bn!r}: momentum=None (a cumulative average) is not supported")
    c = bn.num_features
    weight = bn.weight if bn.affine else torch.ones(c, dtype=bn.running_mean.dtype)
    bias = bn.bias if bn.affine else torch.zeros(c, dtype=bn.running_mean.dtype)
    extra = "" if (bn.eps == 1e-5 and bn.momentum == 0.1) else f",eps<{bn.eps!r}>,momentum<{bn.momentum!r}>"
    count = bn.num_batches_tracked if bn.num_batches_tracked is not None else torch.zeros((), dtype=torch.int64)
    return Layer(f"batch_norm<{act}{extra}>", 1 if act == "identity" else 2,
                 [("weight", weight), ("bias", bias), ("running_mean", bn.running_mean),
                  ("running_var", bn.running_var), ("num_batches_tracked", count, "I64")])


def canonical_layers(model):
    """(input size, [Layer]) of a supported nn.Sequential (see the module docstring).

    Also runs a zero input through the modules (in eval mode, without gradients) so that a model
    whose shapes do not chain is refused here rather than by typegrad::load_weights."""
    modules = list(model.children()) if isinstance(model, nn.Sequential) else None
    if not modules:
        raise ValueError("expected a non-empty nn.Sequential")
    first = next((m for m in modules if not isinstance(m, nn.Identity)), None)
    if isinstance(first, nn.Linear):
        in_size = first.in_features
    elif isinstance(first, nn.Unflatten) and first.dim in (1, -len(first.unflattened_size) - 1):
        in_size = math.prod(first.unflattened_size)
    else:
        raise ValueError(f"the model starts with {first!r}: a typegrad network takes a flat input, so start "
                         "with nn.Linear or nn.Unflatten(1, (C, L)) / nn.Unflatten(1, (C, H, W))")

    layers = []
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    param = next(model.parameters(), None)
    x = torch.zeros(2, in_size, dtype=param.dtype if param is not None else torch.float32)
    try:
        k = 0
        while k < len(modules):
            m, start = modules[k], k
            k += 1
            if isinstance(m, nn.Identity):
                continue

            def activation():
                nonlocal k
                if k < len(modules) and isinstance(modules[k], ACTIVATIONS):
                    k += 1
                    return activation_name(modules[k - 1])
                return "identity"

            if isinstance(m, nn.Linear):
                if x.shape[-1] != m.in_features:
                    raise ValueError(f"module {start} (nn.Linear) takes {m.in_features} inputs but the previous "
                                     f"module gives {x.shape[-1]}")
                act = activation()
                layer = Layer(f"dense<{m.out_features},{act}>", 1 if act == "identity" else 2, _weight_bias(m))
            elif isinstance(m, nn.ConstantPad1d) and k < len(modules) and type(modules[k]) is nn.Conv1d:
                conv = modules[k]
                left = (conv.kernel_size[0] - 1) * conv.dilation[0]
                if tuple(m.padding) != (left, 0) or m.value != 0 or _single(conv.padding) not in (0, "valid"):
                    raise ValueError(f"modules {start}, {k}: {m!r} + {conv!r} is not a causal convolution "
                                     f"(nn.ConstantPad1d(({left}, 0), 0) + nn.Conv1d(padding=0))")
                k += 1
                with torch.no_grad():
                    x = m(x)
                m = conv
                act = activation()
                layer = Layer(_conv_layer(start, conv, act, causal=True), 1 if act == "identity" else 2,
                              _weight_bias(conv))
            elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
                act = activation()
                layer = Layer(_conv_layer(start, m, act, causal=isinstance(m, CausalConv1d)),
                              1 if act == "identity" else 2, _weight_bias(m))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                layer = _batch_norm_layer(start, m, activation())
            elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
                layer = _pool_layer(start, m)
            elif isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
                if _pair(m.output_size) != (1, 1) or k >= len(modules) or not isinstance(modules[k], nn.Flatten):
                    raise ValueError(f"module {start}: {m!r}: only nn.AdaptiveAvgPool1d(1) / nn.AdaptiveAvgPool2d(1) "
                                     "followed by nn.Flatten() (typegrad's global_avg_pool) is supported")
                with torch.no_grad():
                    x = m(x)
                m = modules[k]
                k += 1
                layer = Layer("global_avg_pool", 2)
            elif isinstance(m, nn.Flatten):
                if m.start_dim != 1 or m.end_dim != -1:
                    raise ValueError(f"module {start}: {m!r}: typegrad's flatten is nn.Flatten(1, -1)")
                layer = Layer("flatten", 1)
            elif isinstance(m, nn.Unflatten):
                if x.dim() != 2 or m.dim not in (1, -len(m.unflattened_size) - 1):
                    raise ValueError(f"module {start}: {m!r}: typegrad's unflatten reshapes a flat input (dim 1)")
                layer = Layer("unflatten<{}>".format(",".join(str(v) for v in m.unflattened_size)), 1)
            elif isinstance(m, (nn.RNN, nn.GRU, nn.LSTM)):
                layer = _recurrent_layer(start, m, x)
            elif isinstance(m, Transpose):
                layer = Layer("transpose", 1)
            elif isinstance(m, LastStep):
                layer = Layer("last_step", 1)
            else:
                what = "an activation must follow nn.Linear, a convolution or a batch norm" \
                    if isinstance(m, ACTIVATIONS) else "unsupported module"
                raise ValueError(f"module {start}: expected nn.Linear, a convolution, a pooling, a batch norm or a "
                                 f"reshape, got {m!r} ({what})")
            try:
                with torch.no_grad():
                    x = m(x)
                if isinstance(x, tuple):  # a recurrent module's (output, state)
                    x = x[0]
            except RuntimeError as e:
                raise ValueError(f"module {start} ({m!r}) does not accept the previous module's output of "
                                 f"shape {tuple(x.shape[1:])}: {e}") from None
            layers.append(layer)
    finally:
        for m, training in modes:
            m.training = training
    return in_size, layers


def architecture_string(in_size, layers):
    return f"input<{in_size}>" + "".join("," + layer.description for layer in layers)


def tensor_names(layers):
    """['0.weight', '0.bias', ...]: the canonical state_dict names of the layers' tensors."""
    names, module = [], 0
    for layer in layers:
        names += [f"{module}.{t[0]}" for t in layer.tensors]
        module += layer.modules
    return names


def write_safetensors(path, tensors, metadata, dtype):
    """tensors: [(name, shape, flat list of values[, own dtype])]; dtype 'F32' or 'F64' for those
    without their own ('I64' for integers). Atomic (temp + rename)."""
    header = {"__metadata__": dict(metadata)} if metadata else {}
    data, offset = [], 0
    for name, shape, values, *own in tensors:
        tdtype = own[0] if own else dtype
        fmt, size = {"F32": ("f", 4), "F64": ("d", 8), "I64": ("q", 8)}[tdtype]
        for v in values:
            if not math.isfinite(v):
                raise ValueError(f"tensor '{name}' holds {v}; typegrad refuses non-finite weights")
        blob = struct.pack(f"<{len(values)}{fmt}", *values)
        assert len(blob) == size * math.prod(shape)
        header[name] = {"dtype": tdtype, "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
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
    """Writes `model` (a supported nn.Sequential, see the module docstring) to `path` for typegrad.

    dtype: 'F32' or 'F64' (default: F64 if the model's parameters are float64, else F32).
    metadata: extra string -> string entries (keys starting with 'typegrad.' are reserved).
    Returns the architecture string."""
    in_size, layers = canonical_layers(model)
    if dtype is None:
        param = next(model.parameters(), None)
        dtype = "F64" if param is not None and param.dtype == torch.float64 else "F32"
    if dtype not in ("F32", "F64"):
        raise ValueError(f"dtype {dtype!r}: typegrad networks are F32 or F64")
    arch = architecture_string(in_size, layers)
    meta = {str(k): str(v) for k, v in (metadata or {}).items() if not str(k).startswith("typegrad.")}
    meta.setdefault("format", "pt")
    meta["typegrad.architecture"] = arch
    meta["typegrad.version"] = TYPEGRAD_VERSION
    meta["typegrad.exporter"] = f"tools/export_pytorch.py (torch {torch.__version__})"
    names = tensor_names(layers)
    tensors = []
    to = torch.float64 if dtype == "F64" else torch.float32
    for name, t in zip(names, (t for layer in layers for t in layer.tensors)):
        value = t[1].detach().to("cpu")
        if len(t) > 2:  # an integer counter
            tensors.append((name, list(value.shape), [int(v) for v in value.flatten().tolist()], t[2]))
        else:
            tensors.append((name, list(value.shape), value.to(to).contiguous().flatten().tolist()))
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
