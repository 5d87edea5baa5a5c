#!/usr/bin/python3
"""Reference attributions from PyTorch autograd: saliency, gradient x input, integrated gradients.

Writes tests/data/explain_reference.json (read by tests/explain/explain.test.cpp). Everything is
computed in torch.float64 with model.eval() (batch norm uses its running statistics).

Two nn.Sequential networks, a batch of 5 samples each:

  net_dense, input 13, attributions of output K = 2 (a softmax probability):
    0 Linear(13, 9)   1 Tanh   2 Linear(9, 7)   3 Softplus   4 Linear(7, 4)   5 Softmax(dim=1)

  net_conv, input 84, attributions of output K = 1 (a sigmoid probability):
    0 Unflatten(1, (2, 7, 6))
    1 Conv2d(2, 4, 3, padding=1)      -> (4, 7, 6)
    2 BatchNorm2d(4)   3 Tanh
    4 MaxPool2d(2)                    -> (4, 3, 3)
    5 Conv2d(4, 3, 2)                 -> (3, 2, 2)
    6 ELU
    7 AdaptiveAvgPool2d(1)   8 Flatten -> 3
    9 Linear(3, 2)   10 Sigmoid

Parameters ~ U(-0.5, 0.5) from a seeded torch.Generator; BatchNorm weight ~ U(0.5, 1.5), bias ~
U(-0.2, 0.2), running_mean ~ U(-0.1, 0.1), running_var ~ U(0.8, 1.2); x ~ U(-1, 1), baseline ~
U(-0.3, 0.3).

Per network the JSON records (tensors as {"shape": [...], "values": [row-major flat list]}):
  k, steps, x, baseline, state_dict, output (eval), saliency = d output[:, k] / dx (autograd),
  gradient_x_input = x * saliency, and integrated gradients with the midpoint rule
  (Captum's method='riemann_middle'): alpha_j = (j + 1/2) / steps, j = 0 .. steps - 1,
  attributions = (x - baseline) * mean_j d output[:, k] / dx at baseline + alpha_j (x - baseline),
  delta = sum over features of attributions - (output[:, k](x) - output[:, k](baseline)).

Regenerate (from the repository root; needs python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/pytorch_reference/explain.py

and commit the updated tests/data/explain_reference.json.
"""

import json
import math
import os

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")

SEED = 20261203
BATCH = 5
STEPS = 24  # one full pass of 16 path points and a short one in typegrad
DTYPE = torch.float64


def make_dense():
    return nn.Sequential(nn.Linear(13, 9), nn.Tanh(), nn.Linear(9, 7), nn.Softplus(), nn.Linear(7, 4),
                         nn.Softmax(dim=1)).to(DTYPE)


def make_conv():
    return nn.Sequential(
        nn.Unflatten(1, (2, 7, 6)),
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 2),
        nn.ELU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
        nn.Sigmoid(),
    ).to(DTYPE)


def uniform(gen, shape, lo, hi):
    return torch.rand(shape, generator=gen, dtype=DTYPE) * (hi - lo) + lo


def init_state(model, gen):
    bn_ranges = {"weight": (0.5, 1.5), "bias": (-0.2, 0.2), "running_mean": (-0.1, 0.1), "running_var": (0.8, 1.2)}
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            index, field = name.split(".", 1)
            lo, hi = bn_ranges[field] if isinstance(model[int(index)], nn.BatchNorm2d) else (-0.5, 0.5)
            t.copy_(uniform(gen, t.shape, lo, hi))


def tensor(t):
    t = t.detach().cpu()
    if t.is_floating_point():
        values = [float(v) for v in t.to(DTYPE).flatten().tolist()]
    else:
        values = [int(v) for v in t.flatten().tolist()]
    return {"shape": list(t.shape), "values": values}


def saliency(model, x, k):
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(xg)[:, k].sum(), xg)  # samples are independent in eval mode
    return g


def integrated_gradients(model, x, baseline, k, steps):
    total = torch.zeros_like(x)
    for j in range(steps):
        alpha = (j + 0.5) / steps
        total += saliency(model, baseline + alpha * (x - baseline), k)
    attributions = (x - baseline) * total / steps
    with torch.no_grad():
        change = model(x)[:, k] - model(baseline)[:, k]
    return attributions, attributions.sum(dim=1) - change


def reference(make, in_features, k, gen):
    model = make()
    init_state(model, gen)
    model.eval()
    x = uniform(gen, (BATCH, in_features), -1.0, 1.0)
    baseline = uniform(gen, (BATCH, in_features), -0.3, 0.3)
    s = saliency(model, x, k)
    ig, delta = integrated_gradients(model, x, baseline, k, STEPS)
    with torch.no_grad():
        out = model(x)
    return {
        "modules": [repr(m) for m in model],
        "k": k,
        "steps": STEPS,
        "x": tensor(x),
        "baseline": tensor(baseline),
        "state_dict": {name: tensor(t) for name, t in model.state_dict().items()},
        "output": tensor(out),
        "saliency": tensor(s),
        "gradient_x_input": tensor(x * s),
        "integrated_gradients": tensor(ig),
        "delta": tensor(delta),
    }


def finite(obj):
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(finite(v) for v in obj)
    return True


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    doc = {
        "generator": "tools/pytorch_reference/explain.py",
        "torch_version": torch.__version__,
        "description": ("float64 PyTorch autograd attributions in eval mode: saliency d output[:, k]/dx, "
                        "gradient_x_input, integrated gradients (midpoint rule, alpha_j = (j + 1/2)/steps) and "
                        "their completeness residual delta. Tensors are {shape, values (row-major flat)}."),
        "seed": SEED,
        "net_dense": reference(make_dense, 13, 2, gen),
        "net_conv": reference(make_conv, 84, 1, gen),
    }
    assert finite(doc)
    path = os.path.join(DATA, "explain_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
