#!/usr/bin/python3
"""Reference values of the combinators (parallel + concat, residual) from PyTorch, forward and backward.

Writes tests/data/combinators_reference.json and tests/data/combinators_reference.safetensors (net
"nested"'s initial state_dict in float64, with the state_dict names typegrad's weight files use).
Everything is computed in torch.float64.

The PyTorch modules that typegrad's combinators stand for (their state_dict names are the names in
typegrad's weight files):

  Parallel(branches, splits=None): branches = nn.ModuleList([nn.Sequential(...), ...]); with
      splits (the sizes of typegrad::inputs<...>) branch j gets x's columns of input j, else every
      branch gets x; the output is torch.cat([b(x_j).flatten(1) ...], dim=1)  ("0.branches.1.1.weight")
  Residual(*layers): body = nn.Sequential(*layers); the output is x + body(x)  ("3.body.0.weight")

Two networks, batch 5:

  split (typegrad: inputs<input<5>, input<14>>, parallel<branch<dense<3, tanh>>,
         branch<unflatten<2, 7>, conv1d<3, 3, tanh>, flatten>>, dense<2>), MSELoss against [5, 2]:
    0 Parallel([Sequential(Linear(5, 3), Tanh),
                Sequential(Unflatten(1, (2, 7)), Conv1d(2, 3, 3), Tanh, Flatten)], splits=[5, 14])
    1 Linear(18, 2)

  nested (typegrad: input<14>, dense<14, tanh>, unflatten<2, 7>,
          residual<conv1d<4, 3, tanh, padding_same>, conv1d<2, 3, identity, padding_same>>,
          parallel<branch<flatten, dense<5, tanh>, residual<dense<3, tanh>, dense<5>>>,
                   branch<global_avg_pool>>, dense<3>), CrossEntropyLoss against classes in {0, 1, 2}:
    0 Linear(14, 14)   1 Tanh   2 Unflatten(1, (2, 7))
    3 Residual(Conv1d(2, 4, 3, padding='same'), Tanh, Conv1d(4, 2, 3, padding='same'))
    4 Parallel([Sequential(Flatten, Linear(14, 5), Tanh, Residual(Linear(5, 3), Tanh, Linear(3, 5))),
                Sequential(AdaptiveAvgPool1d(1), Flatten)])
    5 Linear(7, 3)

Every parameter is drawn from uniform(-0.5, 0.5) by a torch.Generator seeded with SEED; inputs from
uniform(-1, 1); MSE targets from uniform(-1, 1), classes uniform in {0, 1, 2}. Per network the JSON
records x, target, state_dict (before training), and for one forward/backward: output, loss,
input_grad (d loss / d x), grad (every named parameter); after_sgd_step (the state_dict after one
torch.optim.SGD(lr=0.1) step). "split" also has "batch1": the same pass on x[0:1], target[0:1].

Regenerate (from the repository root; needs python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/pytorch_reference/combinators.py

and commit the updated tests/data/combinators_reference.json and .safetensors.
"""

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

SEED = 20261211
BATCH = 5
LR = 0.1
DTYPE = torch.float64


class Parallel(nn.Module):
    """typegrad::parallel<branch<...>..., concat>."""

    def __init__(self, branches, splits=None):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.splits = splits

    def forward(self, x):
        parts = torch.split(x, self.splits, dim=1) if self.splits else [x] * len(self.branches)
        return torch.cat([b(p).flatten(1) for b, p in zip(self.branches, parts)], dim=1)


class Residual(nn.Module):
    """typegrad::residual<Layers...>: x + body(x)."""

    def __init__(self, *layers):
        super().__init__()
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


def make_split():
    return nn.Sequential(
        Parallel([nn.Sequential(nn.Linear(5, 3), nn.Tanh()),
                  nn.Sequential(nn.Unflatten(1, (2, 7)), nn.Conv1d(2, 3, 3), nn.Tanh(), nn.Flatten())],
                 splits=[5, 14]),
        nn.Linear(18, 2),
    ).to(DTYPE)


def make_nested():
    return nn.Sequential(
        nn.Linear(14, 14),
        nn.Tanh(),
        nn.Unflatten(1, (2, 7)),
        Residual(nn.Conv1d(2, 4, 3, padding="same"), nn.Tanh(), nn.Conv1d(4, 2, 3, padding="same")),
        Parallel([nn.Sequential(nn.Flatten(), nn.Linear(14, 5), nn.Tanh(),
                                Residual(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 5))),
                  nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())]),
        nn.Linear(7, 3),
    ).to(DTYPE)


def uniform(gen, shape, lo, hi):
    return torch.rand(shape, generator=gen, dtype=DTYPE) * (hi - lo) + lo


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


def reference(make, in_features, loss_fn, make_target, gen, batch1=False):
    model = make()
    with torch.no_grad():
        for _, t in model.state_dict().items():
            t.copy_(uniform(gen, t.shape, -0.5, 0.5))
    x = uniform(gen, (BATCH, in_features), -1.0, 1.0)
    target = make_target(gen)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    rec = {"modules": repr(model), "x": tensor(x), "target": tensor(target), "state_dict": state(model)}
    rec.update(train_pass(model, loss_fn, x, target))
    torch.optim.SGD(model.parameters(), lr=LR).step()
    rec["after_sgd_step"] = state(model)
    model.load_state_dict(original)
    if batch1:
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
    gen = torch.Generator().manual_seed(SEED)
    split, _ = reference(make_split, 19, nn.MSELoss(), lambda g: uniform(g, (BATCH, 2), -1.0, 1.0), gen,
                         batch1=True)
    while True:  # targets that use every class
        nested, model = reference(make_nested, 14, nn.CrossEntropyLoss(),
                                  lambda g: torch.randint(0, 3, (BATCH,), generator=g), gen)
        if set(nested["target"]["values"]) == {0, 1, 2}:
            break
    doc = {
        "generator": "tools/pytorch_reference/combinators.py",
        "torch_version": torch.__version__,
        "description": (
            "float64 PyTorch reference for typegrad's parallel (+ concat) and residual, as the modules "
            "Parallel (branches = ModuleList of Sequential) and Residual (body = Sequential) of the "
            "generator. Tensors are {shape, values (row-major flat)}. split: MSELoss(mean); nested: "
            "CrossEntropyLoss(mean), integer class targets. Per net: x, target, state_dict (initial), "
            f"output, loss, input_grad, grad (per parameter), after_sgd_step (SGD lr={LR}). "
            "split.batch1: the same pass on sample 0 alone."),
        "batch": BATCH,
        "sgd_lr": LR,
        "split": split,
        "nested": nested,
    }
    assert finite(doc)
    path = os.path.join(DATA, "combinators_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path)

    tensors = [(name, list(t.shape), [float(v) for v in t.flatten().tolist()])
               for name, t in model.state_dict().items()]
    st_path = os.path.join(DATA, "combinators_reference.safetensors")
    write_safetensors(st_path, tensors, {"format": "pt",
                                         "description": "combinators_reference.json nested: initial state_dict, float64"},
                      "F64")
    print("wrote", st_path)


if __name__ == "__main__":
    main()
