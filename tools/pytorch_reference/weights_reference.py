#!/usr/bin/python3
"""Regenerate the committed PyTorch reference for tests/io/weights.test.cpp.

Run from anywhere:  /usr/bin/python3 tools/pytorch_reference/weights_reference.py
It writes, under tests/data/:
  weights_pytorch_reference.safetensors      nn.Sequential(Linear(5,7), Tanh, Linear(7,3), ReLU, Linear(3,2)),
                                             torch.manual_seed(20261125) default init, F32
  weights_pytorch_reference_f64.safetensors  the same model in float64, F64
  weights_pytorch_activations.safetensors    every supported activation (and an explicit nn.Identity,
                                             which takes no module slot in the file), float64, F64
  weights_pytorch_reference_io.json          inputs and PyTorch's outputs for all three
The files are written by tools/export_pytorch.py; the outputs come from PyTorch's own forward pass,
so the C++ test compares typegrad's forward pass against an independent implementation.
"""

import copy
import json
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from export_pytorch import export_sequential  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "data")


def rows(t):
    return [[float(v) for v in r] for r in t.tolist()]


def main():
    torch.manual_seed(20261125)
    ref = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.ReLU(), nn.Linear(3, 2))
    x = torch.rand(8, 5, dtype=torch.float32) * 4 - 2  # float32 values, exact in float64 too
    ref64 = copy.deepcopy(ref).double()
    with torch.no_grad():
        y32 = ref(x)
        y64 = ref64(x.double())
    export_sequential(ref, os.path.join(DATA, "weights_pytorch_reference.safetensors"),
                      metadata={"description": "5-7 tanh-3 relu-2, torch.manual_seed(20261125)"})
    export_sequential(ref64, os.path.join(DATA, "weights_pytorch_reference_f64.safetensors"),
                      metadata={"description": "5-7 tanh-3 relu-2, torch.manual_seed(20261125), float64"})

    act = nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.01), nn.Linear(6, 5), nn.ELU(), nn.Linear(5, 5),
                        nn.Softplus(), nn.Linear(5, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 4), nn.SiLU(),
                        nn.Linear(4, 3), nn.Identity(), nn.Linear(3, 3), nn.LeakyReLU(0.2), nn.Linear(3, 3),
                        nn.Sigmoid()).double()
    xa = (torch.rand(6, 4, dtype=torch.float32) * 6 - 3).double()
    with torch.no_grad():
        ya = act(xa)
    arch = export_sequential(act, os.path.join(DATA, "weights_pytorch_activations.safetensors"))

    io = {
        "generator": "tools/pytorch_reference/weights_reference.py, torch " + torch.__version__,
        "reference": {"inputs": rows(x), "outputs_f32": rows(y32), "outputs_f64": rows(y64)},
        "activations": {"architecture": arch, "inputs": rows(xa), "outputs_f64": rows(ya)},
    }
    with open(os.path.join(DATA, "weights_pytorch_reference_io.json"), "w") as f:
        json.dump(io, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
