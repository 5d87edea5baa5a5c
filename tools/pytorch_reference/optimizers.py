#!/usr/bin/python3
"""Reference trajectories of PyTorch's optimizers, LR schedulers and gradient clipping.

Writes tests/data/optimizer_reference.json, which tests/optim/optimizers.test.cpp replays with
typegrad's optimizers and compares to float tolerance.

The problem: a network 3 -> 5 (tanh) -> 2 (identity), MSE loss (reduction='mean'), a batch of 4,
float32, with the fixed initial weights and data written below. Each configuration starts from the
same weights and runs 20 steps of

    loss = mse(net(x), y); loss.backward(); [clip_grad_norm_]; opt.step(); [scheduler.step()]

i.e. LR schedulers are stepped once per optimizer step (typegrad counts schedules in train_step
calls). The JSON records, per configuration, the loss before each step, the learning rate each
step used, and the final parameters.

Regenerate (from the repository root; needs python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/pytorch_reference/optimizers.py

and commit the updated tests/data/optimizer_reference.json.
"""

import json
import math
import os

import torch

STEPS = 20

# Initial parameters, PyTorch nn.Linear order (weight is [out, in]).
W1 = [[0.30, -0.45, 0.12],
      [-0.21, 0.37, 0.55],
      [0.48, 0.09, -0.33],
      [-0.15, -0.52, 0.27],
      [0.41, 0.23, 0.06]]
B1 = [0.05, -0.10, 0.20, 0.00, -0.07]
W2 = [[0.25, -0.38, 0.44, 0.13, -0.29],
      [-0.17, 0.31, 0.08, -0.46, 0.36]]
B2 = [0.10, -0.05]

X = [[0.50, -1.20, 0.30],
     [1.10, 0.40, -0.70],
     [-0.60, 0.90, 1.50],
     [0.20, -0.30, -1.10]]
Y = [[0.80, -0.40],
     [-0.30, 0.60],
     [0.50, 0.90],
     [-0.70, -0.20]]


def make_net():
    torch.manual_seed(0)  # irrelevant: every parameter is overwritten below
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(W1))
        net[0].bias.copy_(torch.tensor(B1))
        net[2].weight.copy_(torch.tensor(W2))
        net[2].bias.copy_(torch.tensor(B2))
    return net


# name -> (optimizer factory, list of scheduler factories (chained), clip max_norm or None)
def configurations():
    sgd = torch.optim.SGD
    adam = torch.optim.Adam
    adamw = torch.optim.AdamW
    lrs = torch.optim.lr_scheduler
    return {
        "sgd": (lambda p: sgd(p, lr=0.1), [], None),
        "sgd_momentum": (lambda p: sgd(p, lr=0.05, momentum=0.9), [], None),
        "sgd_momentum_dampening": (lambda p: sgd(p, lr=0.05, momentum=0.9, dampening=0.3), [], None),
        "sgd_nesterov": (lambda p: sgd(p, lr=0.05, momentum=0.9, nesterov=True), [], None),
        "sgd_weight_decay": (lambda p: sgd(p, lr=0.1, weight_decay=0.05), [], None),
        "sgd_momentum_weight_decay": (lambda p: sgd(p, lr=0.05, momentum=0.8, weight_decay=0.02), [], None),
        "adam_default": (lambda p: adam(p), [], None),
        "adam": (lambda p: adam(p, lr=0.02, betas=(0.8, 0.99)), [], None),
        "adam_weight_decay": (lambda p: adam(p, lr=0.01, weight_decay=0.1), [], None),
        "adamw": (lambda p: adamw(p, lr=0.01), [], None),
        "adamw_strong_decay": (lambda p: adamw(p, lr=0.02, weight_decay=0.5), [], None),
        "adam_clip": (lambda p: adam(p, lr=0.01), [], 0.1),
        "sgd_clip": (lambda p: sgd(p, lr=0.1, momentum=0.5), [], 0.2),
        "sgd_step_lr": (lambda p: sgd(p, lr=0.1), [lambda o: lrs.StepLR(o, step_size=5, gamma=0.5)], None),
        "sgd_exponential_lr": (lambda p: sgd(p, lr=0.1), [lambda o: lrs.ExponentialLR(o, gamma=0.9)], None),
        "sgd_cosine_lr": (lambda p: sgd(p, lr=0.1),
                          [lambda o: lrs.CosineAnnealingLR(o, T_max=20, eta_min=0.01)], None),
        "sgd_cosine_lr_restart": (lambda p: sgd(p, lr=0.1), [lambda o: lrs.CosineAnnealingLR(o, T_max=8)], None),
        "sgd_warmup": (lambda p: sgd(p, lr=0.1),
                       [lambda o: lrs.LinearLR(o, start_factor=0.1, total_iters=5)], None),
        "sgd_momentum_warmup_cosine": (lambda p: sgd(p, lr=0.05, momentum=0.9),
                                       [lambda o: lrs.LinearLR(o, start_factor=0.25, total_iters=4),
                                        lambda o: lrs.CosineAnnealingLR(o, T_max=20)], None),
        "adamw_warmup_step_clip": (lambda p: adamw(p, lr=0.02),
                                   [lambda o: lrs.LinearLR(o, start_factor=0.5, end_factor=1.0, total_iters=3),
                                    lambda o: lrs.StepLR(o, step_size=6, gamma=0.7)], 0.3),
    }


def run(make_opt, make_scheds, max_norm):
    net = make_net()
    x = torch.tensor(X)
    y = torch.tensor(Y)
    opt = make_opt(net.parameters())
    scheds = [f(opt) for f in make_scheds]
    sched = lrs_chain(opt, scheds)
    losses, lrs, grad_norms = [], [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        if max_norm is not None:
            grad_norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm)))
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(float(loss))
    params = {
        "w1": net[0].weight.tolist(), "b1": net[0].bias.tolist(),
        "w2": net[2].weight.tolist(), "b2": net[2].bias.tolist(),
    }
    out = {"loss": losses, "lr": lrs, "final": params}
    if grad_norms:
        out["grad_norm"] = grad_norms
    return out


def lrs_chain(opt, scheds):
    if not scheds:
        return None
    if len(scheds) == 1:
        return scheds[0]
    return torch.optim.lr_scheduler.ChainedScheduler(scheds)


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    results = {name: run(*cfg) for name, cfg in configurations().items()}
    for name, r in results.items():
        assert all(math.isfinite(v) for v in r["loss"]), name
    doc = {
        "generator": "tools/pytorch_reference/optimizers.py",
        "torch_version": torch.__version__,
        "steps": STEPS,
        "initial": {"w1": W1, "b1": B1, "w2": W2, "b2": B2},
        "x": X,
        "y": Y,
        "runs": results,
    }
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "tests", "data", "optimizer_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
