#!/usr/bin/python3
"""Self-check of tools/export_pytorch.py and tools/import_pytorch.py (no C++ needed).

    /usr/bin/python3 tools/pytorch_reference/check_weights_tools.py

Exports models covering every supported activation, an explicit nn.Identity, a Linear without bias
and both dtypes; imports them back and requires bit-identical outputs and canonical state_dict names;
checks that unsupported modules are refused; and re-reads the committed reference files. Prints OK.
"""

import os
import sys
import tempfile

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from export_pytorch import export_sequential  # noqa: E402
from import_pytorch import import_sequential, read_safetensors  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "data")


def roundtrip(model, expected_arch, expected_names, dtype=None):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.safetensors")
        arch = export_sequential(model, path, metadata={"note": "x"}, dtype=dtype)
        assert arch == expected_arch, arch
        back, meta = import_sequential(path)
        assert meta["note"] == "x" and meta["typegrad.architecture"] == arch
        assert list(back.state_dict().keys()) == expected_names, list(back.state_dict().keys())
        p = next(back.parameters())
        x = torch.randn(9, model[0].in_features, dtype=p.dtype)
        with torch.no_grad():
            assert torch.equal(back(x), model.to(p.dtype)(x)), "outputs differ after the round trip"


def refused(model, needle):
    with tempfile.TemporaryDirectory() as d:
        try:
            export_sequential(model, os.path.join(d, "m.safetensors"))
        except ValueError as e:
            assert needle in str(e), str(e)
            assert not os.listdir(d), "a refused export left a file"
            return
    raise AssertionError(f"{model} was not refused")


def main():
    torch.manual_seed(1)
    roundtrip(nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid()),
              "input<30>,dense<16,relu>,dense<16,relu>,dense<1,sigmoid>",
              ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
    roundtrip(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), "input<3>,dense<4,tanh>,dense<2,identity>",
              ["0.weight", "0.bias", "2.weight", "2.bias"])
    roundtrip(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double(),
              "input<3>,dense<4,tanh>,dense<2,identity>", ["0.weight", "0.bias", "2.weight", "2.bias"])
    # nn.Identity and a missing bias: exported canonically (no module slot, zero bias).
    roundtrip(nn.Sequential(nn.Linear(3, 4, bias=False), nn.Identity(), nn.Linear(4, 5), nn.LeakyReLU(-0.5),
                            nn.Linear(5, 5), nn.GELU(approximate="tanh"), nn.Linear(5, 3), nn.Softmax(dim=-1)),
              "input<3>,dense<4,identity>,dense<5,leaky_relu(-1/2)>,dense<5,gelu>,dense<3,softmax>",
              ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"])
    roundtrip(nn.Sequential(nn.Linear(2, 3), nn.ELU(), nn.Linear(3, 3), nn.Softplus(), nn.Linear(3, 2), nn.SiLU()),
              "input<2>,dense<3,elu>,dense<3,softplus>,dense<2,silu>",
              ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"], dtype="F64")

    refused(nn.Sequential(nn.Linear(2, 2), nn.GELU()), "approximate='tanh'")
    refused(nn.Sequential(nn.Linear(2, 2), nn.ELU(alpha=2.0)), "alpha")
    refused(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.ReLU()), "expected nn.Linear")
    refused(nn.Sequential(nn.Linear(2, 3), nn.Linear(2, 2)), "takes 2 inputs")
    bad = nn.Sequential(nn.Linear(2, 2))
    with torch.no_grad():
        bad[0].weight[0, 0] = float("nan")
    refused(bad, "non-finite")

    for name in ("weights_pytorch_reference.safetensors", "weights_pytorch_reference_f64.safetensors",
                 "weights_pytorch_activations.safetensors"):
        meta, tensors = read_safetensors(os.path.join(DATA, name))
        import_sequential(os.path.join(DATA, name))
    print("OK")


if __name__ == "__main__":
    main()
