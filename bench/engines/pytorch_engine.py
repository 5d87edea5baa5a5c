#!/usr/bin/python3
"""The PyTorch eager engine: nn.Sequential (of nn.Linear, or cases.py's convolutional modules) +
torch.optim.SGD, one thread.
Speaks the same protocol as the C++ engines (see common.hpp): --data DIR --mode verify|time."""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from cases import CONV_NETWORKS, LR, NETWORKS, ROWS, VERIFY_STEPS, is_conv, parse_module  # noqa: E402


def load_row(path):
    raw = open(path, "rb").read()
    if struct.unpack_from("<i", raw)[0] == 0x32424754:
        return load_tensor_row(raw, path)
    ints = np.frombuffer(raw, dtype="<i4")
    assert ints[0] == 0x31424754, path
    n_layers = int(ints[1])
    sizes = [int(v) for v in ints[2:3 + n_layers]]
    batch, kind = int(ints[3 + n_layers]), int(ints[4 + n_layers])
    off = 4 * (5 + n_layers)

    def take(n, dtype="<f4"):
        nonlocal off
        a = np.frombuffer(raw, dtype=dtype, count=n, offset=off).copy()
        off += 4 * n
        return a

    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params.append(torch.from_numpy(take(a * b).reshape(b, a)))
        params.append(torch.from_numpy(take(b)))
    x = torch.from_numpy(take(batch * sizes[0]).reshape(batch, sizes[0]))
    if kind == 1:
        t = torch.from_numpy(take(batch, "<i4").astype(np.int64))
    else:
        t = torch.from_numpy(take(batch * sizes[-1]).reshape(batch, sizes[-1]))
    return sizes, batch, params, x, t


def load_tensor_row(raw, path):
    """The list-of-tensors format of the convolutional rows (gen_data.py): returns the module text
    (instead of the layer sizes), batch, parameters, x, targets."""
    magic, batch, kind, n_in, n_out, n_text = struct.unpack_from("<6i", raw, 0)
    off = 24
    text = raw[off:off + n_text].decode()
    off += n_text
    (n_tensors,) = struct.unpack_from("<i", raw, off)
    off += 4

    def take(n, dtype="<f4"):
        nonlocal off
        a = np.frombuffer(raw, dtype=dtype, count=n, offset=off).copy()
        off += 4 * n
        return a

    params = []
    for _ in range(n_tensors):
        rank = int(take(1, "<i4")[0])
        shape = [int(v) for v in take(rank, "<i4")]
        params.append(torch.from_numpy(take(int(np.prod(shape))).reshape(shape)))
    x = torch.from_numpy(take(batch * n_in).reshape(batch, n_in))
    if kind == 1:
        t = torch.from_numpy(take(batch, "<i4").astype(np.int64))
    else:
        t = torch.from_numpy(take(batch * n_out).reshape(batch, n_out))
    assert off == len(raw), path
    return text, batch, params, x, t


def make_conv_model(modules):
    """nn.Sequential from cases.py's module list (cases.CONV_NETWORKS)."""
    nn = torch.nn
    make = {
        "unflatten": lambda a, k: nn.Unflatten(1, tuple(a)),
        "conv1d": lambda a, k: nn.Conv1d(*a, **k),
        "conv2d": lambda a, k: nn.Conv2d(*a, **k),
        "maxpool1d": lambda a, k: nn.MaxPool1d(*a),
        "maxpool2d": lambda a, k: nn.MaxPool2d(*a),
        "adaptiveavgpool1d": lambda a, k: nn.AdaptiveAvgPool1d(*a),
        "adaptiveavgpool2d": lambda a, k: nn.AdaptiveAvgPool2d(*a),
        "flatten": lambda a, k: nn.Flatten(),
        "linear": lambda a, k: nn.Linear(*a),
        "relu": lambda a, k: nn.ReLU(),
        "tanh": lambda a, k: nn.Tanh(),
        "sigmoid": lambda a, k: nn.Sigmoid(),
    }
    mods = []
    for text in modules:
        kind, args, kwargs = parse_module(text)
        mods.append(make[kind](args, kwargs))
    return torch.nn.Sequential(*mods)


def make_model(sizes, acts):
    mods = []
    for (a, b), act in zip(zip(sizes[:-1], sizes[1:]), acts):
        mods.append(torch.nn.Linear(a, b))
        if act == "relu":
            mods.append(torch.nn.ReLU())
        elif act == "tanh":
            mods.append(torch.nn.Tanh())
        elif act == "sigmoid":
            mods.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods)


def set_parameters(model, start):
    with torch.no_grad():
        for p, s in zip(model.parameters(), start):
            p.copy_(s)


def time_row(row_id, budget, reset, steps):
    """Same protocol as bench::time_row (common.hpp): process CPU time (primary) and wall time, reset
    between chunks of at most 1000 steps outside the timed region, clock cost subtracted."""
    def run(n):
        reset()
        c0 = time.process_time()
        t0 = time.perf_counter()
        steps(n)
        t1 = time.perf_counter()
        c1 = time.process_time()
        return c1 - c0, t1 - t0

    empty = [run(0) for _ in range(50)]
    oc, ow = min(e[0] for e in empty), min(e[1] for e in empty)
    warm, n, warm_steps = 0.0, 1, 0
    while warm < max(2e-3, budget / 10):
        warm += run(n)[0]
        warm_steps += n
        n = min(n * 2, 1000)
    per_step = warm / warm_steps
    chunk = int(min(max(np.ceil(100e-6 / per_step), 1), 1000))
    cpu, wall, done = 0.0, 0.0, 0
    while cpu < budget or done < 3:
        c, w = run(chunk)
        cpu += max(c - oc, 0.0)
        wall += max(w - ow, 0.0)
        done += chunk
    print(json.dumps({"row": row_id, "us": cpu / done * 1e6, "us_wall": wall / done * 1e6, "steps": done}), flush=True)


def mapped_blas():
    found = "none"
    for line in open("/proc/self/maps"):
        p = line.find("/")
        if p < 0:
            continue
        path = line[p:].strip()
        if "libopenblas" in path:
            return path
        if "libblas.so" in path:
            found = path
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".")
    ap.add_argument("--mode", default="verify")
    ap.add_argument("--budget", type=float, default=0.15)
    ap.add_argument("--rows", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    wanted = [r for r in a.rows.split(",") if r]
    cap = "unknown"
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            cap = line.split(":", 1)[1].strip()
    torch.zeros(4, 4) @ torch.zeros(4, 4)  # load the BLAS before looking for it
    print(json.dumps({"info": True, "engine": "pytorch", "isa": cap, "blas": mapped_blas(),
                      "torch": torch.__version__}), flush=True)
    for row_id, net, batch, inference in ROWS:
        if wanted and row_id not in wanted:
            continue
        sizes, b, start, x, t = load_row(os.path.join(a.data, row_id + ".bin"))
        if is_conv(net):
            _, _, loss_name, modules = CONV_NETWORKS[net]
            if sizes != "\n".join(modules) or b != batch:
                sys.exit("pytorch_engine: %s: the data file's network differs from cases.py" % row_id)
            model = make_conv_model(modules)
        else:
            want_sizes, acts, loss_name = NETWORKS[net]
            if sizes != want_sizes or b != batch:
                sys.exit("pytorch_engine: %s: the data file's shape differs from cases.py" % row_id)
            model = make_model(sizes, acts)
        if [tuple(p.shape) for p in model.parameters()] != [tuple(p.shape) for p in start]:
            sys.exit("pytorch_engine: %s: the data file's parameter shapes differ from the model's" % row_id)
        set_parameters(model, start)
        if inference:
            def forward_n(n):
                with torch.inference_mode():
                    for _ in range(n):
                        model(x)
            if a.mode == "verify":
                with torch.inference_mode():
                    y = model(x)
                print(json.dumps({"row": row_id, "output": [float(v) for v in y.flatten()]}), flush=True)
            else:
                time_row(row_id, a.budget, lambda: None, forward_n)
            continue
        loss_fn = {"mse": torch.nn.MSELoss(), "bce": torch.nn.BCELoss(), "ce": torch.nn.CrossEntropyLoss()}[loss_name]
        opt = torch.optim.SGD(model.parameters(), lr=LR)

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), t)
            loss.backward()
            opt.step()
            return loss

        def steps(n):
            for _ in range(n):
                step()

        if a.mode == "verify":
            losses = [float(step().item()) for _ in range(VERIFY_STEPS + 1)]
            print(json.dumps({"row": row_id, "losses": losses}), flush=True)
        else:
            time_row(row_id, a.budget, lambda: set_parameters(model, start), steps)


if __name__ == "__main__":
    main()
