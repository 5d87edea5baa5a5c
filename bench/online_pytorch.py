"""PyTorch eager doing bench/online_bench.cpp's per-sample online step (float, one thread): one
GRU step with its hidden state kept (no_grad), then forward over the latest 16-sample window from
the detached state of 16 samples back, MSE, backward, Adam (lr 4e-4); GRU(1, 8) + Linear(8, 1).
Prints ns per sample; given the two binaries, runs them too and prints the ratios.
Run: /usr/bin/python3 bench/online_pytorch.py [--samples N] [--typegrad build/.../bench_online]
                                              [--libtorch build/.../bench_online_libtorch]"""
import argparse
import math
import subprocess
import time

import torch

WINDOW, PERIOD = 16, 4096


def signal():
    """The same input and target as online_bench.cpp (float32)."""
    x, t = [], []
    for i in range(PERIOD):
        p, s = 2 * math.pi * 50.0 * i / 360.0, i / PERIOD
        x.append(math.sin(p))
        t.append((0.2 + 0.1 * s) * math.sin(p + 2 * s) + 0.05 * math.sin(3 * p))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(t, dtype=torch.float32)


def ns_per_sample(samples, rounds=3):
    x, t = signal()
    # Windows and targets built up front as views: the timed loop indexes, as a ring buffer would.
    idx = (torch.arange(PERIOD).view(-1, 1) + torch.arange(-(WINDOW - 1), 1).view(1, -1)) % PERIOD
    xw_all, tw_all = x[idx].view(PERIOD, 1, WINDOW, 1), t[idx].view(PERIOD, 1, WINDOW, 1)
    best, best_cpu, loss_value = float("inf"), float("inf"), 0.0
    for _ in range(rounds):
        torch.manual_seed(1)
        gru, head = torch.nn.GRU(1, 8, batch_first=True), torch.nn.Linear(8, 1)
        opt = torch.optim.Adam(list(gru.parameters()) + list(head.parameters()), lr=4e-4)
        h_stream = torch.zeros(1, 1, 8)
        ring = [torch.zeros(1, 1, 8) for _ in range(WINDOW)]
        acc = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(samples):
            k = i % PERIOD
            with torch.no_grad():
                out, h_stream = gru(x[k].view(1, 1, 1), h_stream)
                acc += head(out).item()
            out, h_last = gru(xw_all[k], ring[i % WINDOW])
            loss = torch.nn.functional.mse_loss(head(out), tw_all[k])
            opt.zero_grad()
            loss.backward()
            opt.step()
            ring[i % WINDOW] = h_last.detach()
            loss_value = loss.item()
        best = min(best, (time.perf_counter() - t0) / samples * 1e9)
        best_cpu = min(best_cpu, (time.process_time() - c0) / samples * 1e9)
    return best, best_cpu, loss_value


def run_binary(path, samples=None):
    """(wall, cpu) ns per sample; cpu is the wall time when the binary reports none."""
    args = [path] + ([str(samples)] if samples else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    print(out.rstrip())
    values = dict(line.split()[:2] for line in out.splitlines() if "ns_per_sample" in line)
    wall = float(values["ns_per_sample"])
    return wall, float(values.get("cpu_ns_per_sample", wall))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--typegrad", help="path to bench_online")
    ap.add_argument("--libtorch", help="path to bench_online_libtorch")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = {}
    if a.typegrad:
        rows["typegrad"] = run_binary(a.typegrad)
    if a.libtorch:
        rows["libtorch"] = run_binary(a.libtorch, a.samples)
    ns, cpu, loss = ns_per_sample(a.samples)
    print(f"PyTorch {torch.__version__} eager online step, GRU(1,8)+Linear(8,1), window 16, Adam, float, 1 thread, "
          f"{a.samples} samples per round, best of 3; loss after the last round {loss:.3g}")
    print(f"ns_per_sample {ns:.1f}\ncpu_ns_per_sample {cpu:.1f}")
    rows["PyTorch eager"] = ns, cpu
    # typegrad's rounds are short enough for the best to be undisturbed (its wall time is its CPU
    # time); the torch engines' rounds take seconds, so on a loaded machine their CPU time is the
    # fair figure and the wall-time ratio an upper bound.
    print(f"\n{'engine':16s} {'wall ns/sample':>15s} {'CPU ns/sample':>14s} {'x typegrad (CPU)':>17s} "
          f"{'% of 48 kHz (CPU)':>18s}")
    for name, (wall, c) in rows.items():
        ratio = f"{c / rows['typegrad'][1]:.0f}x" if "typegrad" in rows else "-"
        print(f"{name:16s} {wall:15.1f} {c:14.1f} {ratio:>17s} {100 * c / 20833.3:17.1f}%")


if __name__ == "__main__":
    main()
