#!/usr/bin/env python3
"""Writes every benchmark row's initial weights, inputs and targets to <out>/<row>.bin, so that
all engines start from the very same float32 numbers.

Format (little-endian): int32 magic 0x31424754 ("TGB1"), int32 L (layers), int32 sizes[L+1],
int32 batch, int32 target kind (0: float32 [B][out], 1: int32 class index [B]); then per layer
float32 W[out][in] (PyTorch's layout) and b[out]; then float32 x[B][in]; then the targets.

Convolutional networks (cases.CONV_NETWORKS) use a second format, a list of tensors: int32 magic
0x32424754 ("TGB2"), int32 batch, int32 target kind, int32 in, int32 out (per sample), int32 n and
n bytes of text (the network's modules, one per line, as in cases.py), int32 T (tensors); per tensor
int32 rank, int32 shape[rank], float32 values (PyTorch's layout: conv weight [O, C/G, K] or
[O, C/G, KH, KW], bias [O], linear weight [out, in]); then float32 x[B][in]; then the targets.
"""
import os
import struct
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import CONV_NETWORKS, NETWORKS, ROWS, conv_layers, is_conv  # noqa: E402

MAGIC = 0x31424754
MAGIC_TENSORS = 0x32424754


def make_conv(row_id, net, batch, seed):
    n_in, n_out, loss, modules = CONV_NETWORKS[net]
    rng = np.random.default_rng(seed)
    tensors = []
    for _, wshape, _, _ in conv_layers(net):
        fan_in = int(np.prod(wshape[1:]))
        bound = np.sqrt(3.0 / fan_in)  # uniform with variance 1/fan_in
        tensors.append(rng.uniform(-bound, bound, size=wshape).astype(np.float32))
        tensors.append(rng.uniform(-0.1, 0.1, size=wshape[0]).astype(np.float32))
    if net == "ecg":
        # One second of a synthetic ECG-like trace: a baseline wander, a QRS-like spike per beat, noise.
        # Label 1 (every other sample) has fast, tall beats, label 0 slow, low ones: a label the
        # network can learn, so that the 10 verification steps move the loss measurably.
        n = np.arange(n_in)
        t = (np.arange(batch) % 2 == 0).astype(np.float32).reshape(batch, 1)
        x = np.empty((batch, n_in), dtype=np.float32)
        for s in range(batch):
            period = rng.uniform(90, 150) if t[s, 0] else rng.uniform(200, 330)
            height = rng.uniform(2.0, 3.0) if t[s, 0] else rng.uniform(0.5, 1.0)
            phase = rng.uniform(0, period)
            d = (n - phase) % period
            d = np.minimum(d, period - d)
            x[s] = (0.2 * np.sin(2 * np.pi * n / n_in + rng.uniform(0, 6.3)) + height * np.exp(-(d / 4.0) ** 2)
                    + 0.05 * rng.normal(size=n_in))
    elif net == "digits":
        # 8x8 images with 17 grey levels (as sklearn's digits): a random template per class, plus noise.
        t = (np.arange(batch) * 7 + 3) % n_out
        templates = rng.integers(0, 17, size=(n_out, n_in))
        x = (np.clip(templates[t] + rng.integers(-4, 5, size=(batch, n_in)), 0, 16) / 16.0).astype(np.float32)
    else:
        raise ValueError(net)
    kind = 1 if loss == "ce" else 0
    text = "\n".join(modules).encode()
    with open(row_id + ".bin", "wb") as f:
        f.write(struct.pack("<iiiiii", MAGIC_TENSORS, batch, kind, n_in, n_out, len(text)))
        f.write(text)
        f.write(struct.pack("<i", len(tensors)))
        for a in tensors:
            f.write(struct.pack("<%di" % (1 + a.ndim), a.ndim, *a.shape))
            f.write(a.astype("<f4").tobytes())
        f.write(x.astype("<f4").tobytes())
        f.write(np.asarray(t).astype("<i4" if kind else "<f4").tobytes())


def make(row_id, net, batch, seed):
    sizes, _, loss = NETWORKS[net]
    rng = np.random.default_rng(seed)  # PCG64: the same stream on every platform
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(3.0 / fan_in)  # uniform with variance 1/fan_in
        w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, size=fan_out).astype(np.float32)
        layers.append((w, b))
    n_in, n_out = sizes[0], sizes[-1]
    if net == "xor":
        pats = np.array([[0, 1], [1, 0], [1, 1], [0, 0]], dtype=np.float32)
        x = pats[:batch]
        t = (x[:, :1] != x[:, 1:]).astype(np.float32)
    elif net == "seed":
        x = rng.uniform(-1, 1, size=(batch, n_in)).astype(np.float32)
        t = np.zeros((batch, n_out), dtype=np.float32)  # "mse vs 0"
    elif net == "cancer":
        x = rng.normal(size=(batch, n_in)).astype(np.float32)  # standardised features
        t = (np.arange(batch) % 2 == 0).astype(np.float32).reshape(batch, 1)
    elif net == "mnist":
        x = rng.uniform(0, 1, size=(batch, n_in)).astype(np.float32)  # pixel intensities
        t = (np.arange(batch) * 7 + 3) % n_out
    elif net == "wide":
        x = rng.normal(size=(batch, n_in)).astype(np.float32)
        t = rng.normal(size=(batch, n_out)).astype(np.float32)
    else:
        raise ValueError(net)
    kind = 1 if loss == "ce" else 0
    with open(row_id + ".bin", "wb") as f:
        f.write(struct.pack("<ii", MAGIC, len(layers)))
        f.write(struct.pack("<%di" % len(sizes), *sizes))
        f.write(struct.pack("<ii", batch, kind))
        for w, b in layers:
            f.write(w.astype("<f4").tobytes())
            f.write(b.astype("<f4").tobytes())
        f.write(x.astype("<f4").tobytes())
        f.write(np.asarray(t).astype("<i4" if kind else "<f4").tobytes())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    os.chdir(out)
    for k, (row_id, net, batch, _) in enumerate(ROWS):
        (make_conv if is_conv(net) else make)(row_id, net, batch, seed=1000 + k)


if __name__ == "__main__":
    main()
