"""PyTorch eager stepping the cells of bench/stream_bench.cpp one sample at a time (float, one
thread, no_grad), in ns per call: the issue-10 comparison "stream >= 1000x PyTorch eager".
Run: /usr/bin/python3 bench/stream_pytorch.py [calls, default 20000]"""
import sys
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20000


class Cell(torch.nn.Module):
    def __init__(self, kind, hidden):
        super().__init__()
        self.cell = {"gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}[kind](1, hidden)
        self.head = torch.nn.Linear(hidden, 1)
        self.kind, self.hidden = kind, hidden

    def reset(self):
        h = torch.zeros(1, self.hidden)
        self.state = h if self.kind == "gru" else (h, h.clone())

    def forward(self, x):
        self.state = self.cell(x, self.state)
        h = self.state if self.kind == "gru" else self.state[0]
        return self.head(h)


class Conv(torch.nn.Module):
    """Causal Conv1d(1, 12, 5) + Linear(12, 1), one sample at a time over a 5-sample window."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 12, 5)
        self.head = torch.nn.Linear(12, 1)

    def reset(self):
        self.window = torch.zeros(1, 1, 5)

    def forward(self, x):
        self.window = torch.cat([self.window[:, :, 1:], x.view(1, 1, 1)], dim=2)
        return self.head(self.conv(self.window).view(1, 12))


def dense(n):
    m = torch.nn.Sequential(torch.nn.Linear(n, n), torch.nn.Tanh(), torch.nn.Linear(n, n))
    m.reset = lambda: None
    return m, n


rows = [("GRU(1->8)+dense(1)", Cell("gru", 8), 1), ("LSTM(1->8)+dense(1)", Cell("lstm", 8), 1),
        ("GRU(1->32)+dense(1)", Cell("gru", 32), 1), ("LSTM(1->32)+dense(1)", Cell("lstm", 32), 1),
        ("causal conv1d 1->12 k5 + dense(12->1)", Conv(), 1)]
for n in (8, 64):
    m, width = dense(n)
    rows.append((f"dense {n}->tanh->{n}", m, width))

print(f"PyTorch {torch.__version__} eager, float, 1 thread, no_grad, {calls} calls, best of 3")
with torch.no_grad():
    for name, model, width in rows:
        x = torch.full((1, width), 0.1)
        best = float("inf")
        for _ in range(3):
            model.reset()
            t0 = time.perf_counter()
            for i in range(calls):
                x[0, 0] = (i & 1023) * 1e-3
                model(x)
            best = min(best, (time.perf_counter() - t0) / calls * 1e9)
        print(f"{name:48s} {best:10.0f} ns")
