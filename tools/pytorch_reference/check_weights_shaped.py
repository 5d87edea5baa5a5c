#!/usr/bin/python3
"""Self-check of tools/export_pytorch.py and tools/import_pytorch.py on shaped layers (no C++ needed).

    /usr/bin/python3 tools/pytorch_reference/check_weights_shaped.py

Round-trips nn.Sequential models with Unflatten, Conv1d/2d (stride, padding, 'same', causal,
dilation, groups), BatchNorm1d/2d, Max/AvgPool, AdaptiveAvgPool + Flatten through a safetensors
file, in training and eval mode, requiring identical outputs and canonical names, and checks that
unsupported modules are refused.
"""
import os, sys, tempfile, copy
import torch
from torch import nn
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE)); sys.path.insert(0, HERE)
from export_pytorch import export_sequential, CausalConv1d
from import_pytorch import import_sequential, read_safetensors
import conv as convref

def roundtrip(model, arch=None, names=None, dtype=None, train_check=True):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.safetensors")
        a = export_sequential(model, path, dtype=dtype)
        if arch is not None: assert a == arch, a
        back, meta = import_sequential(path)
        if names is not None: assert list(back.state_dict().keys()) == names, list(back.state_dict().keys())
        p = next(back.parameters())
        x = torch.randn(5, int(a.split(">")[0][6:]), dtype=p.dtype)
        m = copy.deepcopy(model).to(p.dtype)
        with torch.no_grad():
            for mode in (True, False):
                back.train(mode); m.train(mode)
                assert torch.equal(back(copy.deepcopy(x)), m(x)), ("outputs differ", mode)
        return a

def refused(model, needle):
    with tempfile.TemporaryDirectory() as d:
        try:
            export_sequential(model, os.path.join(d, "m.safetensors"))
        except ValueError as e:
            assert needle in str(e), str(e); assert not os.listdir(d); return
    raise AssertionError(f"{model} was not refused")

torch.manual_seed(3)
nb = convref.make_net_b()
with torch.no_grad():
    nb[2].running_mean.uniform_(-0.1, 0.1); nb[2].running_var.uniform_(0.8, 1.2); nb[2].num_batches_tracked.fill_(7)
a = roundtrip(nb, "input<144>,unflatten<2,9,8>,conv2d<4,3,3,identity,stride<1,1>,padding<1,1>,dilation<1,1>,groups<1>>,batch_norm<relu>,max_pool2d<2,2>,conv2d<5,2,3,tanh,stride<2,1>,padding<0,0>,dilation<1,1>,groups<1>>,avg_pool2d<2,2>,flatten,dense<3,identity>",
 ["1.weight","1.bias","2.weight","2.bias","2.running_mean","2.running_var","2.num_batches_tracked","5.weight","5.bias","9.weight","9.bias"])
print(a)
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "m.safetensors"); export_sequential(nb, path)
    meta, t = read_safetensors(path); assert t["2.num_batches_tracked"].dtype == torch.int64 and t["2.num_batches_tracked"].shape == () and int(t["2.num_batches_tracked"]) == 7
print(roundtrip(convref.make_net_a(), "input<38>,unflatten<2,19>,conv1d<6,3,tanh,stride<2>,padding<1>,dilation<1>,groups<1>>,conv1d<6,3,sigmoid,stride<1>,padding<2>,dilation<2>,groups<3>>,max_pool1d<2,2>,flatten,dense<3,identity>",
 ["1.weight","1.bias","3.weight","3.bias","7.weight","7.bias"]))
# causal (custom module and pad+conv folded), same, global pool, bn1d after dense, no-bias conv, identity modules
m1 = nn.Sequential(nn.Unflatten(1, (3, 20)), CausalConv1d(3, 4, 3, dilation=2), nn.ReLU(), nn.Conv1d(4, 4, 4, padding="same", bias=False),
                   nn.BatchNorm1d(4), nn.AvgPool1d(3, 2), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 6), nn.BatchNorm1d(6, eps=1e-3, momentum=0.2), nn.Tanh(), nn.Linear(6, 2))
print(roundtrip(m1, None, ["1.weight","1.bias","3.weight","3.bias","4.weight","4.bias","4.running_mean","4.running_var","4.num_batches_tracked","8.weight","8.bias","9.weight","9.bias","9.running_mean","9.running_var","9.num_batches_tracked","11.weight","11.bias"], dtype="F64"))
m2 = nn.Sequential(nn.Unflatten(1, (3, 20)), nn.ConstantPad1d((4, 0), 0.0), nn.Conv1d(3, 4, 3, dilation=2), nn.Identity(), nn.Flatten(), nn.Linear(80, 2))
print(roundtrip(m2, "input<60>,unflatten<3,20>,conv1d<4,3,identity,stride<1>,padding<causal>,dilation<2>,groups<1>>,flatten,dense<2,identity>", ["1.weight","1.bias","3.weight","3.bias"]))
m3 = nn.Sequential(nn.Unflatten(1, (2, 6, 7)), nn.Conv2d(2, 4, (3, 2), padding="same", dilation=(1, 2), groups=2), nn.GELU(approximate="tanh"),
                   nn.BatchNorm2d(4, affine=False), nn.MaxPool2d(2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3), nn.Softmax(dim=-1))
print(roundtrip(m3, None, ["1.weight","1.bias","3.weight","3.bias","3.running_mean","3.running_var","3.num_batches_tracked","7.weight","7.bias"]))
refused(nn.Sequential(nn.Conv1d(2, 2, 3)), "flat input")
refused(nn.Sequential(nn.Unflatten(1, (2, 5)), nn.Conv1d(3, 2, 3)), "does not accept")
refused(nn.Sequential(nn.Unflatten(1, (2, 5)), nn.Conv1d(2, 2, 3, padding_mode="circular")), "padding_mode")
refused(nn.Sequential(nn.Unflatten(1, (2, 4, 4)), nn.MaxPool2d((2, 1))), "square")
refused(nn.Sequential(nn.Unflatten(1, (2, 5)), nn.MaxPool1d(2, padding=1)), "without padding")
refused(nn.Sequential(nn.Unflatten(1, (2, 5)), nn.AdaptiveAvgPool1d(2), nn.Flatten()), "AdaptiveAvgPool1d(1)")
refused(nn.Sequential(nn.Unflatten(1, (2, 5)), nn.ReLU()), "an activation must follow")
refused(nn.Sequential(nn.Unflatten(1, (2, 5)), nn.ConstantPad1d((1, 0), 0.0), nn.Conv1d(2, 2, 3)), "not a causal")
refused(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, track_running_stats=False)), "running statistics")
print("OK")
