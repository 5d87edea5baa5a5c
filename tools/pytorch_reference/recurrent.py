#!/usr/bin/python3
"""Reference values of PyTorch's nn.RNN, nn.GRU and nn.LSTM (batch_first), forward and backward.

Writes tests/data/recurrent_reference.json and tests/data/recurrent_reference.safetensors (the
network's initial state_dict in float32 as tools/export_pytorch.py exports it: PyTorch's own names,
"1.weight_ih_l0", ..., and the typegrad.architecture string that load_weights checks). Everything
is computed in torch.float64.

One network, batch 5, input 21, MSELoss(reduction='mean') against a [5, 14] target. PyTorch's
recurrent modules return (output, state), so export_pytorch.RecurrentSequential keeps output only:
    0 Unflatten(1, (7, 3))                                 -> (7, 3)    (Steps, Features)
    1 GRU(3, 5, batch_first=True)                          -> (7, 5)
    2 LSTM(5, 4, batch_first=True)                         -> (7, 4)
    3 RNN(4, 3, nonlinearity='tanh', batch_first=True)     -> (7, 3)
    4 Linear(3, 2)  (on every step)                        -> (7, 2)
    5 Flatten                                              -> 14
typegrad: network<input<21, double>, unflatten<7, 3>, gru<5>, lstm<4>, rnn<3>, dense<2>, flatten>.

Every parameter is drawn from uniform(-0.5, 0.5) by a seeded torch.Generator in state_dict order;
x and target from uniform(-1, 1). The JSON records (tensors as {"shape", "values" (row-major)}):
x, target, state_dict, output, loss, input_grad, grad (every named parameter) and after_sgd_step
(the state_dict after one torch.optim.SGD(lr=0.1) step); "batch1": the same pass on sample 0.

Regenerate (from the repository root; needs python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/pytorch_reference/recurrent.py

and commit tests/data/recurrent_reference.json and tests/data/recurrent_reference.safetensors.
"""

import json
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from export_pytorch import RecurrentSequential, export_sequential  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")

SEED = 20261202
BATCH = 5
STEPS = 7
LR = 0.1
DTYPE = torch.float64


def make_net():
    return RecurrentSequential(
        nn.Unflatten(1, (STEPS, 3)),
        nn.GRU(3, 5, batch_first=True),
        nn.LSTM(5, 4, batch_first=True),
        nn.RNN(4, 3, nonlinearity="tanh", batch_first=True),
        nn.Linear(3, 2),
        nn.Flatten(),
    ).to(DTYPE)


def uniform(gen, shape, lo, hi):
    return torch.rand(shape, generator=gen, dtype=DTYPE) * (hi - lo) + lo


def tensor(t):
    t = t.detach().cpu()
    return {"shape": list(t.shape), "values": [float(v) for v in t.to(DTYPE).flatten().tolist()]}


def state(model):
    return {name: tensor(t) for name, t in model.state_dict().items()}


def train_pass(model, x, target):
    model.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    loss = nn.MSELoss()(out, target)
    loss.backward()
    return {"output": tensor(out), "loss": float(loss), "input_grad": tensor(xg.grad),
            "grad": {name: tensor(p.grad) for name, p in model.named_parameters()}}


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    model = make_net()
    with torch.no_grad():
        for _, t in model.state_dict().items():
            t.copy_(uniform(gen, t.shape, -0.5, 0.5))
    x = uniform(gen, (BATCH, STEPS * 3), -1.0, 1.0)
    target = uniform(gen, (BATCH, STEPS * 2), -1.0, 1.0)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    rec = {"modules": [repr(m) for m in model], "x": tensor(x), "target": tensor(target), "state_dict": state(model)}
    rec.update(train_pass(model, x, target))
    torch.optim.SGD(model.parameters(), lr=LR).step()
    rec["after_sgd_step"] = state(model)
    model.load_state_dict(original)
    rec["batch1"] = train_pass(model, x[0:1], target[0:1])
    doc = {"generator": "tools/pytorch_reference/recurrent.py", "torch_version": torch.__version__,
           "batch": BATCH, "steps": STEPS, "sgd_lr": LR, "net": rec}
    path = os.path.join(DATA, "recurrent_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path)
    model.load_state_dict(original)
    st_path = os.path.join(DATA, "recurrent_reference.safetensors")
    arch = export_sequential(model, st_path, {"description": "recurrent_reference.json initial state_dict"}, "F32")
    print("wrote", st_path, arch)


if __name__ == "__main__":
    main()
