#!/usr/bin/python3
"""A/B timing of two builds of the typegrad bench engine (e.g. before and after a core change).

Runs both engines in interleaved rounds on the same rows (bench/gen_data.py's data) and prints
the median µs per step of each and their ratio, so that the comparison is made in one run on one
machine. Usage (from the repository root):

    /usr/bin/python3 bench/ab_typegrad.py --a OLD/bench_typegrad --b NEW/bench_typegrad [--rounds 15]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from driver import ONE_THREAD, run_engine  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="engine A (the baseline)")
    ap.add_argument("--b", required=True, help="engine B")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--budget", type=float, default=0.1)
    a = ap.parse_args()
    data = tempfile.mkdtemp(prefix="typegrad-ab-")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_data.py"), data], check=True, capture_output=True)
    engines = {"A": [os.path.abspath(a.a)], "B": [os.path.abspath(a.b)]}
    samples = {"A": {}, "B": {}}
    for rnd in range(a.rounds):
        for key in (["A", "B"] if rnd % 2 == 0 else ["B", "A"]):
            _, rows = run_engine(engines[key], {}, ["--data", data, "--mode", "time", "--budget", str(a.budget)])
            for row, d in rows.items():
                samples[key].setdefault(row, []).append(d["us"])
    print(f"median us per step over {a.rounds} interleaved rounds (one thread: {ONE_THREAD})")
    print(f"{'row':<18} {'A':>10} {'B':>10} {'B / A':>7}")
    for row in [r for r in samples["A"] if r in samples["B"]]:  # rows both builds have
        ma, mb = statistics.median(samples["A"][row]), statistics.median(samples["B"][row])
        print(f"{row:<18} {ma:>10.4g} {mb:>10.4g} {mb / ma:>7.3f}")


if __name__ == "__main__":
    main()
