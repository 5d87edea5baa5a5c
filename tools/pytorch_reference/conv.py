#!/usr/bin/python3
"""Reference values of PyTorch's convolution, pooling and batch-norm layers, forward and backward.

Writes tests/data/conv_reference.json (and tests/data/conv_reference.safetensors: net B's initial
state_dict in float32, written by tools/export_pytorch.py's write_safetensors). Everything is
computed in torch.float64.

Two nn.Sequential networks, batch 5 each (the module indices are the state_dict names, "1.weight"):

  net_a (conv1d), input 38, MSELoss(reduction='mean') against a [5, 3] target:
    0 Unflatten(1, (2, 19))
    1 Conv1d(2, 6, 3, stride=2, padding=1)                 -> (6, 10)
    2 Tanh
    3 Conv1d(6, 6, 3, padding=2, dilation=2, groups=3)     -> (6, 10)
    4 Sigmoid
    5 MaxPool1d(2)                                         -> (6, 5)
    6 Flatten                                              -> 30
    7 Linear(30, 3)

  net_b (conv2d + pooling + batch norm), input 144, CrossEntropyLoss(reduction='mean') against
  integer classes in [0, 3):
    0 Unflatten(1, (2, 9, 8))
    1 Conv2d(2, 4, 3, padding=1)                           -> (4, 9, 8)
    2 BatchNorm2d(4)  (eps 1e-5, momentum 0.1)
    3 ReLU
    4 MaxPool2d(2)                                         -> (4, 4, 4)   (row 8 is dropped)
    5 Conv2d(4, 5, (2, 3), stride=(2, 1))                  -> (5, 2, 2)
    6 Tanh
    7 AvgPool2d(2)                                         -> (5, 1, 1)
    8 Flatten                                              -> 5
    9 Linear(5, 3)

Every parameter is drawn from uniform(-0.5, 0.5) by a seeded torch.Generator (not PyTorch's default
init), except BatchNorm's weight ~ U(0.5, 1.5), bias ~ U(-0.2, 0.2), running_mean ~ U(-0.1, 0.1),
running_var ~ U(0.8, 1.2). Inputs ~ U(-1, 1), MSE targets ~ U(-1, 1), classes uniform in {0, 1, 2}.
The seed starts at BASE_SEED and is incremented until no max-pool window has a tie (gap between the
two largest values <= MARGIN) and no ReLU input is within MARGIN of 0, in both train and eval mode,
so that finite differences are well defined. The one exception: a MaxPool2d window after the ReLU
whose four inputs are all ReLU'd to exactly 0 is a tie, but harmless (every value in it has zero
gradient, and its ReLU inputs are all < -MARGIN). For net B the seed must also give targets that
use all three classes. The seed used is recorded as "seed".

Per network, the JSON records (tensors as {"shape": [...], "values": [row-major flat list]}):
  x, target, state_dict (before training: every model.state_dict() entry by name, including BN's
  running_mean, running_var and num_batches_tracked), and for one model.train() forward/backward:
  output, loss, input_grad (d loss / d x), grad (every model.named_parameters() entry);
  after_sgd_step (the whole state_dict after one torch.optim.SGD(lr=0.1) step; for net B this
  includes the running statistics that the training forward pass updated once, with the unbiased
  batch variance, and num_batches_tracked = 1); eval_output (model.eval() on the same x with the
  ORIGINAL state_dict, i.e. the original running statistics). Net A also has "batch1": the same
  training pass on x[0:1], target[0:1] only (output, loss, input_grad, grad).

Regenerate (from the repository root; needs python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/pytorch_reference/conv.py

and commit the updated tests/data/conv_reference.json and tests/data/conv_reference.safetensors.
"""

import copy
import json
import math
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from export_pytorch import write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")

BASE_SEED = 20261202
MARGIN = 1e-4  # minimum |ReLU input| and minimum gap between a max-pool window's two largest values
BATCH = 5
LR = 0.1
DTYPE = torch.float64
CLASSES = 3


def make_net_a():
    return nn.Sequential(
        nn.Unflatten(1, (2, 19)),
        nn.Conv1d(2, 6, 3, stride=2, padding=1),
        nn.Tanh(),
        nn.Conv1d(6, 6, 3, dilation=2, groups=3, padding=2),
        nn.Sigmoid(),
        nn.MaxPool1d(2),
        nn.Flatten(),
        nn.Linear(30, 3),
    ).to(DTYPE)


def make_net_b():
    return nn.Sequential(
        nn.Unflatten(1, (2, 9, 8)),
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4, eps=1e-5, momentum=0.1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, (2, 3), stride=(2, 1)),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(5, 3),
    ).to(DTYPE)


def uniform(gen, shape, lo, hi):
    return torch.rand(shape, generator=gen, dtype=DTYPE) * (hi - lo) + lo


def init_state(model, gen):
    """Overwrites every floating state_dict entry, in state_dict order, from `gen`."""
    bn_ranges = {"weight": (0.5, 1.5), "bias": (-0.2, 0.2),
                 "running_mean": (-0.1, 0.1), "running_var": (0.8, 1.2)}
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue  # num_batches_tracked stays 0
            index, field = name.split(".", 1)
            lo, hi = bn_ranges[field] if isinstance(model[int(index)], nn.BatchNorm2d) else (-0.5, 0.5)
            t.copy_(uniform(gen, t.shape, lo, hi))


def window_gaps(pool, inp):
    """Gap between the largest and second largest value of every max-pool window, and the largest."""
    if isinstance(pool, nn.MaxPool1d):
        k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        assert pool.stride in (k, (k,)) and pool.padding in (0, (0,)) and pool.dilation in (1, (1,))
        n, c, length = inp.shape
        w = inp[..., :length // k * k].reshape(n, c, length // k, k)
    else:
        k = pool.kernel_size
        assert k == 2 and pool.stride == 2 and pool.padding == 0 and pool.dilation == 1
        n, c, h, wd = inp.shape
        oh, ow = h // k, wd // k
        w = inp[..., :oh * k, :ow * k].reshape(n, c, oh, k, ow, k).permute(0, 1, 2, 4, 3, 5)
        w = w.reshape(n, c, oh, ow, k * k)
    top = torch.topk(w, 2, dim=-1).values
    return (top[..., 0] - top[..., 1]).flatten(), top[..., 0].flatten()


def well_conditioned(model, x):
    """True if no ReLU input is within MARGIN of 0 and no max-pool window has a (harmful) tie."""
    h = x
    after_relu = False
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.ReLU) and (h.abs() <= MARGIN).any():
                return False
            if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
                gaps, top = window_gaps(m, h)
                bad = gaps <= MARGIN
                if after_relu:
                    bad &= top != 0  # an all-zero window after ReLU: every input has zero gradient
                if bad.any():
                    return False
            after_relu = isinstance(m, nn.ReLU)  # the next module's input is a ReLU output
            h = m(h)
    return True


def tensor(t):
    t = t.detach().cpu()
    if t.is_floating_point():
        values = [float(v) for v in t.to(DTYPE).flatten().tolist()]
    else:
        values = [int(v) for v in t.flatten().tolist()]
    return {"shape": list(t.shape), "values": values}


def state(model):
    return {name: tensor(t) for name, t in model.state_dict().items()}


def train_pass(model, loss_fn, x, target):
    """One model.train() forward/backward: output, loss, input_grad and parameter grads."""
    model.train()
    model.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    loss = loss_fn(out, target)
    loss.backward()
    return {
        "output": tensor(out),
        "loss": float(loss),
        "input_grad": tensor(xg.grad),
        "grad": {name: tensor(p.grad) for name, p in model.named_parameters()},
    }


def build(make, in_features, make_target, seed):
    gen = torch.Generator().manual_seed(seed)
    model = make()
    init_state(model, gen)
    x = uniform(gen, (BATCH, in_features), -1.0, 1.0)
    target = make_target(gen)
    return model, x, target


def check(model, x):
    """well_conditioned in train mode (batch statistics) and in eval mode (running statistics)."""
    probe = copy.deepcopy(model)
    probe.train()
    ok = well_conditioned(probe, x)
    probe.eval()
    return ok and well_conditioned(probe, x)


def reference(make, in_features, loss_fn, make_target, batch1=False):
    for seed in range(BASE_SEED, BASE_SEED + 1000):
        model, x, target = build(make, in_features, make_target, seed)
        classes_ok = target.is_floating_point() or set(target.tolist()) == set(range(CLASSES))
        if classes_ok and check(model, x) and (not batch1 or check(model, x[0:1])):
            break
    else:
        raise RuntimeError("no well-conditioned seed found")
    original = copy.deepcopy(model.state_dict())
    rec = {
        "seed": seed,
        "modules": [repr(m) for m in model],
        "x": tensor(x),
        "target": tensor(target),
        "state_dict": state(model),
    }
    rec.update(train_pass(model, loss_fn, x, target))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    opt.step()
    rec["after_sgd_step"] = state(model)

    model.load_state_dict(original)
    model.eval()
    with torch.no_grad():
        rec["eval_output"] = tensor(model(x))

    if batch1:
        model.load_state_dict(original)
        rec["batch1"] = train_pass(model, loss_fn, x[0:1], target[0:1])
    model.load_state_dict(original)
    return rec, model


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
    torch.set_default_dtype(DTYPE)
    net_a, _ = reference(make_net_a, 38, nn.MSELoss(),
                         lambda g: uniform(g, (BATCH, 3), -1.0, 1.0), batch1=True)
    net_b, model_b = reference(make_net_b, 144, nn.CrossEntropyLoss(),
                               lambda g: torch.randint(0, CLASSES, (BATCH,), generator=g))
    doc = {
        "generator": "tools/pytorch_reference/conv.py",
        "torch_version": torch.__version__,
        "description": (
            "float64 PyTorch reference for conv1d/conv2d/max-pool/avg-pool/batch-norm. Tensors are "
            "{shape, values (row-major flat)}. net_a: MSELoss(mean); net_b: CrossEntropyLoss(mean), "
            "integer class targets. Per net: x, target, state_dict (initial), train-mode output, loss, "
            f"input_grad, grad (per parameter), after_sgd_step (state_dict after SGD lr={LR}, incl. BN "
            "running stats updated once by the training forward, unbiased variance), eval_output (eval "
            "mode, initial state_dict). net_a.batch1: the training pass on sample 0 alone."),
        "batch": BATCH,
        "sgd_lr": LR,
        "margin": MARGIN,
        "net_a": net_a,
        "net_b": net_b,
    }
    assert finite(doc)
    path = os.path.join(DATA, "conv_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path)

    # Net B's initial floating-point state_dict in F32 (num_batches_tracked, an int64 counter, is left
    # out: the writer only does F32/F64).
    tensors = [(name, list(t.shape), [float(v) for v in t.to(torch.float32).flatten().tolist()])
               for name, t in model_b.state_dict().items() if t.is_floating_point()]
    st_path = os.path.join(DATA, "conv_reference.safetensors")
    write_safetensors(st_path, tensors, {"format": "pt",
                                         "description": "conv_reference.json net_b initial state_dict, float32 "
                                                        "(num_batches_tracked omitted)"}, "F32")
    print("wrote", st_path)


if __name__ == "__main__":
    main()
