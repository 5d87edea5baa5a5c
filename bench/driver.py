#!/usr/bin/python3
"""Runs the benchmark comparison (called by bench/run.sh, after the build): checks that every engine
reaches the same losses, measures the FMA peak, times the engines in interleaved rounds, measures
compile cost, and writes results.md, results.csv, compile.csv and chart.png."""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
from cases import CONV_NETWORKS, NETWORKS, ROWS, is_conv, matmul_flops  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "compile_cost"))
import flagship_variants  # noqa: E402

LIB = "/usr/lib/x86_64-linux-gnu"
REF_BLAS = {"LD_LIBRARY_PATH": f"{LIB}/blas:{LIB}/lapack"}          # Debian's reference BLAS
OPEN_BLAS = {"LD_LIBRARY_PATH": f"{LIB}/openblas-pthread"}           # libopenblas0-pthread
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TOLERANCE = 1e-4

# Figures the issue quotes for a careful hand-written AVX2 implementation (µs/step), for context.
HAND_AVX2 = {"cancer_b1": 0.16, "cancer_b32": 2.5, "mnist_b64": 360.0, "wide_b64": 1120.0}

# The hand-written baseline of each kind of row: Eigen for the dense networks, plain direct
# convolution loops (engines/direct_engine.cpp) for the convolutional ones.
BASELINE_DENSE, BASELINE_CONV = "eigen", "direct"
# The targets: dense rows (batch 1 only) and convolutional rows.
DENSE_B1_TARGETS = ("seed_b2", "xor_b1", "cancer_b1")
CONV_B1_TARGETS = ("ecg_b1", "digits_b1")
CONV_BATCHED_TARGETS = ("ecg_b32", "digits_b64")


def covers(key, net):
    """Whether engine `key` runs the rows of network `net` (each baseline only has its own kind)."""
    if key == BASELINE_DENSE:
        return not is_conv(net)
    if key == BASELINE_CONV:
        return is_conv(net)
    return True


def baseline(net):
    return BASELINE_CONV if is_conv(net) else BASELINE_DENSE


def describe(net):
    """A network in one line: 30→16→16→1, or the conv net's modules."""
    if not is_conv(net):
        return "→".join(map(str, NETWORKS[net][0]))
    short = []
    for m in CONV_NETWORKS[net][3]:
        kind, *args = m.split()
        if kind in ("relu", "flatten") or kind.startswith("unflatten"):
            continue
        short.append(kind if not args else f"{kind}({', '.join(args)})")
    return f"input {CONV_NETWORKS[net][0]} → " + " → ".join(short)


def engines(build):
    b = os.path.join(build, "bench")
    py = [sys.executable, os.path.join(HERE, "engines", "pytorch_engine.py")]
    return [
        # key, label, command, extra environment, expected BLAS (substring of the mapped path)
        ("typegrad", "typegrad", [f"{b}/bench_typegrad"], {}, None),
        ("eigen", "Eigen 3.4 fixed-size", [f"{b}/bench_eigen"], {}, None),
        ("direct", "hand-written direct conv", [f"{b}/bench_direct"], {}, None),
        ("libtorch-ref", "libtorch C++", [f"{b}/bench_libtorch"], REF_BLAS, "/blas/"),
        ("libtorch-openblas", "libtorch C++", [f"{b}/bench_libtorch"], OPEN_BLAS, "openblas"),
        ("pytorch-ref", "PyTorch eager", py, REF_BLAS, "/blas/"),
        ("pytorch-openblas", "PyTorch eager", py, OPEN_BLAS, "openblas"),
    ]


def blas_name(path):
    if path in (None, "none"):
        return "none"
    return "OpenBLAS" if "openblas" in path else ("reference BLAS" if "/blas/" in path else path)


def run_engine(cmd, env_extra, args):
    env = dict(os.environ, **ONE_THREAD, **env_extra)
    p = subprocess.run(cmd + args, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    info, rows = None, {}
    for line in p.stdout.splitlines():
        d = json.loads(line)
        if d.get("info"):
            info = d
        else:
            rows[d["row"]] = d
    return info, rows


def close(a, b, scale):
    return abs(a - b) <= TOLERANCE * scale


def verify(eng, data):
    """Every engine's 11 losses (10 steps, then the loss after them) or inference outputs must match
    typegrad's: relative 1e-4 for losses, 1e-4 of the output's largest magnitude for outputs."""
    results, infos, errors = {}, {}, []
    worst = (0.0, "")
    for key, _, cmd, env, want_blas in eng:
        info, rows = run_engine(cmd, env, ["--data", data, "--mode", "verify"])
        infos[key] = info
        if want_blas and want_blas not in info["blas"]:
            errors.append(f"{key}: expected a {want_blas} BLAS but {info['blas']} is mapped")
        results[key] = rows
    ref = results["typegrad"]
    for key in results:
        for row_id, net, _, inference in ROWS:
            if not covers(key, net):
                continue
            if row_id not in results[key] or row_id not in ref:
                errors.append(f"{key}: no result for {row_id}")
                continue
            field = "output" if inference else "losses"
            a, b = results[key][row_id][field], ref[row_id][field]
            if len(a) != len(b):
                errors.append(f"{key} {row_id}: {len(a)} values, typegrad has {len(b)}")
                continue
            top = max(abs(v) for v in b)
            for i, (x, y) in enumerate(zip(a, b)):
                scale = top if inference else max(abs(x), abs(y))
                if abs(x - y) / scale > worst[0]:
                    worst = (abs(x - y) / scale, f"{key} {row_id}")
                if not close(x, y, scale):
                    what = f"output[{i}]" if inference else f"loss at step {i}"
                    errors.append(f"{key} {row_id}: {what} = {x:.9g}, typegrad {y:.9g} "
                                  f"(relative difference {abs(x - y) / scale:.2e} > {TOLERANCE:g})")
                    break
    return results, infos, errors, worst


def fma_peaks(build):
    flags = open("/proc/cpuinfo").read()
    peaks = {}
    for isa in ("avx2", "avx512"):
        if isa == "avx512" and " avx512f" not in flags:
            continue
        out = subprocess.run([f"{build}/bench/fma_peak_{isa}"], capture_output=True, text=True, check=True).stdout
        peaks[isa] = json.loads(out)["gflops"]
    return peaks


def timed_compile(args, cwd, label):
    """Compiles once under `/usr/bin/time -v`: wall and CPU seconds, peak RSS and status."""
    p = subprocess.run(["/usr/bin/time", "-v"] + args, cwd=cwd, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", p.stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", p.stderr)
    secs = None
    if wall:
        h, m, s = wall.groups()
        secs = int(h or 0) * 3600 + int(m) * 60 + float(s)
    status = "ok" if p.returncode == 0 else "failed: " + p.stderr.strip().splitlines()[0][:120]
    cpu = float(user.group(1)) + float(system.group(1)) if user and system else None
    row = {"file": label, "wall_s": secs, "cpu_s": cpu,
           "max_rss_mb": int(rss.group(1)) / 1024 if rss else None, "status": status}
    print(f"  compile {label}: {secs} s wall, {cpu} s CPU, {row['max_rss_mb']} MB ({status})", flush=True)
    return row


UMBRELLA_ONLY = "a TU holding only #include <typegrad/typegrad.hpp>"
ONE_NET = "bench/compile_cost/one_net.cpp"
CONV_NET = "bench/compile_cost/conv_net.cpp"
GRU_NET = "bench/compile_cost/gru_net.cpp"
DLIB_ONE_NET = "bench/compile_cost/dlib_one_net.cpp (dlib)"


def compile_costs(build):
    """Wall time and peak RSS of compiling each example and the typegrad bench TUs, one at a time,
    with the exact flags of the build (from compile_commands.json), without ccache; then, with the
    flagship's flags, a TU holding only the umbrella header, the one-net TU (compile_cost/one_net.cpp)
    and dlib's one-net TU (compile_cost/dlib_one_net.cpp, issue 12's reference; dlib without
    typegrad's warning flags and definitions), and the flagship's variants
    (compile_cost/flagship_variants.py)."""
    entries = json.load(open(os.path.join(build, "compile_commands.json")))
    wanted = []
    for e in entries:
        f = os.path.relpath(e["file"], os.path.dirname(HERE))
        if f.startswith("examples/") or f in ("bench/engines/typegrad_engine.cpp", "bench/typegrad_smoke.cpp"):
            wanted.append((f, e))
    out, attribution = [], []
    with tempfile.TemporaryDirectory() as tmp:
        def command(e, source=None):
            args = [a for a in shlex.split(e["command"]) if not a.endswith("ccache")]
            if "-o" in args:
                args[args.index("-o") + 1] = os.path.join(tmp, "out.o")
            for flag in ("-MD", "-MF", "-MT"):  # no dependency files
                while flag in args:
                    i = args.index(flag)
                    del args[i:i + (1 if flag == "-MD" else 2)]
            if source:
                args[args.index(e["file"])] = source
            return args

        for f, e in sorted(wanted, key=lambda fe: fe[0]):
            out.append(timed_compile(command(e), e["directory"], f))
        flagship = next((e for f, e in wanted if f == flagship_variants.FLAGSHIP), None)
        if flagship:
            umbrella = os.path.join(tmp, "umbrella_only.cpp")
            with open(umbrella, "w") as f:
                f.write("#include <typegrad/typegrad.hpp>\n")
            out.append(timed_compile(command(flagship, umbrella), flagship["directory"], UMBRELLA_ONLY))
            out.append(timed_compile(command(flagship, os.path.join(HERE, "compile_cost", "one_net.cpp")),
                                     flagship["directory"], ONE_NET))
            for probe, label in (("conv_net.cpp", CONV_NET), ("gru_net.cpp", GRU_NET)):
                out.append(timed_compile(command(flagship, os.path.join(HERE, "compile_cost", probe)),
                                         flagship["directory"], label))
            if os.path.exists("/usr/include/dlib/dnn.h"):
                dlib = [a for a in command(flagship, os.path.join(HERE, "compile_cost", "dlib_one_net.cpp"))
                        if not a.startswith(("-W", "-DTYPEGRAD"))]
                out.append(timed_compile(dlib, flagship["directory"], DLIB_ONE_NET))
            else:
                print("  compile: dlib (libdlib-dev) is not installed: no dlib row", flush=True)
            attribution.append(timed_compile(command(flagship) + ["-DTYPEGRAD_HEADER_ONLY"], flagship["directory"],
                                             "flagship with TYPEGRAD_HEADER_ONLY (the weight-file I/O and "
                                             "nlohmann-json compiled in the TU, not in the typegrad library)"))
            for k, (label, text) in enumerate(flagship_variants.variants(open(flagship["file"]).read())):
                source = os.path.join(tmp, f"variant{k}.cpp")
                with open(source, "w") as f:
                    f.write(text)
                attribution.append(timed_compile(command(flagship, source), flagship["directory"], label))
    return out, attribution


def fmt_ratio(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def fmt_us(v):
    if v is None:
        return "–"
    if v < 1:
        return f"{v:.4f}"
    if v < 100:
        return f"{v:.3f}"
    return f"{v:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--budget", type=float, default=0.12, help="seconds of timed steps per row, engine and round")
    ap.add_argument("--no-compile-cost", action="store_true")
    ap.add_argument("--command", default="bench/run.sh")
    a = ap.parse_args()

    data = os.path.join(a.build, "bench-data")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_data.py"), data], check=True)
    eng = engines(a.build)
    missing = [k for k, _, cmd, _, _ in eng if not os.path.exists(cmd[-1])]
    if missing:
        sys.exit(f"bench: engines not built: {', '.join(missing)}")

    print("verifying: 10 SGD steps from the same start in every engine ...", flush=True)
    _, infos, errors, worst = verify(eng, data)
    if errors:
        print("bench: ENGINES DISAGREE (relative tolerance %g):" % TOLERANCE, file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        sys.exit(2)
    print(f"  all engines agree; largest relative difference {worst[0]:.1e} ({worst[1]})", flush=True)

    peaks = fma_peaks(a.build)
    tg_isa = infos["typegrad"]["isa"]
    peak_isa = "avx512" if "avx512" in tg_isa and "avx512" in peaks else ("avx2" if "avx" in tg_isa or "fma" in tg_isa else None)
    peak = peaks.get(peak_isa) if peak_isa else None
    print(f"  FMA peak (GFLOP/s, one core): {peaks}; typegrad ISA {tg_isa}", flush=True)

    samples = {k: {r[0]: [] for r in ROWS if covers(k, r[1])} for k, *_ in eng}
    walls = {k: {r[0]: [] for r in ROWS if covers(k, r[1])} for k, *_ in eng}
    for rnd in range(a.rounds):
        order = eng[rnd % len(eng):] + eng[:rnd % len(eng)]  # rotate so drift hits every engine alike
        for key, _, cmd, env, _ in order:
            _, rows = run_engine(cmd, env, ["--data", data, "--mode", "time", "--budget", str(a.budget)])
            for row_id, d in rows.items():
                if row_id not in samples[key]:
                    continue
                samples[key][row_id].append(d["us"])
                walls[key][row_id].append(d["us_wall"])
        print(f"  round {rnd + 1}/{a.rounds} done", flush=True)

    compile_rows, attribution = ([], []) if a.no_compile_cost else compile_costs(a.build)

    # ---- tables ----
    table = []
    for row_id, net, batch, inference in ROWS:
        flops = matmul_flops(net, batch, inference)
        tg_med = statistics.median(samples["typegrad"][row_id])
        for key, label, _, _, _ in eng:
            if not covers(key, net):
                continue
            s = samples[key][row_id]
            med = statistics.median(s)
            gflops = flops / (med * 1e-6) * 1e-9
            table.append({
                "row": row_id, "network": net, "batch": batch, "kind": "inference" if inference else "train",
                "engine": key, "label": label, "blas": blas_name(infos[key]["blas"]), "isa": infos[key]["isa"],
                "median_us": med, "min_us": min(s), "max_us": max(s), "ratio_to_typegrad": med / tg_med,
                "flops_per_step": flops, "gflops": gflops, "pct_peak": 100 * gflops / peak if peak else None,
                "median_wall_us": statistics.median(walls[key][row_id]),
                "samples": ";".join(f"{v:.6g}" for v in s),
                "samples_wall": ";".join(f"{v:.6g}" for v in walls[key][row_id])})

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0].keys()))
        w.writeheader()
        w.writerows(table)
    if compile_rows:
        with open(os.path.join(a.out, "compile.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(compile_rows[0].keys()))
            w.writeheader()
            w.writerows(compile_rows + attribution)

    def get(row_id, key):
        return next(t for t in table if t["row"] == row_id and t["engine"] == key)

    def engines_of(net):
        return [e for e in eng if covers(e[0], net)]

    md = []
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--", "include"], capture_output=True, text=True).stdout.strip()
    cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    md += ["# typegrad benchmark comparison", "",
           f"Command: `{a.command}` — {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, commit {commit}"
           + (" (include/ had uncommitted changes)" if dirty else ""), "",
           f"Machine: {cpu}, {os.cpu_count()} cores, {platform.platform()}; {cxx}. "
           "The machine is shared with other jobs and noisy: compare medians, and read min–max as the spread.", "",
           "Method: float32, one thread (`torch.set_num_threads(1)`, `OMP/OPENBLAS_NUM_THREADS=1`); a training step "
           "is forward + loss + backward + SGD update (lr 0.01). Every engine loads the same initial weights and data "
           "(bench/gen_data.py) and, before timing, runs 10 steps that must reach typegrad's losses within relative "
           f"{TOLERANCE:g} (they did: the largest relative difference was {worst[0]:.1e}, {worst[1]}). "
           f"Each engine is a separate process; {a.rounds} rounds, engines interleaved "
           f"(rotated order each round), {a.budget:g} s of timed steps per row per round; one sample = mean µs/step "
           "of that round (parameters restored between chunks of ≤1000 steps, outside the timed region). "
           "Median, min and max are over the rounds. Times are process CPU time (so that time spent descheduled "
           "on this shared machine is not counted; the cost of reading the clock is subtracted); the last column "
           "is the wall-clock median for comparison.", "",
           "GFLOP/s counts matmul FLOPs only, 2 per multiply-add: forward F = 2·B·Σ in·out over the layers; a "
           "training step = 3F − 2·B·in₀·out₀ (forward, dW, and dX of every layer but the first, which no engine "
           "computes; the issue's ≈3F would overstate the work); inference = F. Convolutional rows count the "
           "multiply-adds of the conv and linear layers the same way: F = 2·B·Σ MACs (a conv layer's MACs = output "
           "positions · out channels · in channels · kernel taps, taps in the padding included), training 3F − 2·B·MACs₀; "
           "pooling, activations and loss are not counted. GFLOP/s and % of peak use the median. "
           "Single-core FP32 FMA peak measured here: " + ", ".join(f"{k.upper()} {v:.1f} GFLOP/s" for k, v in peaks.items())
           + f"; typegrad is compiled for `{tg_isa}`, so % of peak uses "
           + (f"the {peak_isa.upper()} figure ({peak:.1f})." if peak else "no figure."), "",
           "× typegrad = engine median / typegrad median (above 1: typegrad is faster).", "",
           "Engines: typegrad (" + tg_isa + "); the hand-written baselines, -O3 -march as typegrad: Eigen 3.4 with "
           "fixed-size matrices (dense rows), and plain C++ direct-convolution loops with compile-time sizes "
           "(engines/direct_engine.cpp, convolutional rows); "
           f"libtorch {infos['libtorch-ref'].get('isa', '')} kernels (torch::nn modules + torch::optim::SGD); "
           f"PyTorch eager {infos['pytorch-ref'].get('torch', '')} (nn modules + optim.SGD, /usr/bin/python3). "
           "The torch engines run twice, once per BLAS (chosen per process with LD_LIBRARY_PATH; the BLAS column is "
           "the library actually mapped, read from /proc/self/maps).", ""]
    for row_id, net, batch, inference in ROWS:
        title = f"{net} {describe(net)}, batch {batch}, " + ("inference" if inference else "train step")
        md += [f"## {title}", "",
               "| engine | BLAS | median µs | min µs | max µs | × typegrad | GFLOP/s | % peak | wall median µs |",
               "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for key, label, *_ in engines_of(net):
            t = get(row_id, key)
            pct = f"{t['pct_peak']:.3g}" if t["pct_peak"] is not None else "–"
            md.append(f"| {label} | {t['blas']} | {fmt_us(t['median_us'])} | {fmt_us(t['min_us'])} | "
                      f"{fmt_us(t['max_us'])} | {fmt_ratio(t['ratio_to_typegrad'])} | {t['gflops']:.3g} | {pct} | "
                      f"{fmt_us(t['median_wall_us'])} |")
        if row_id in HAND_AVX2:
            md.append(f"\nFor reference, a careful hand-written AVX2 implementation: ~{HAND_AVX2[row_id]:g} µs.")
        md.append("")

    # ---- the targets ----
    md += ["## Targets from the issue", "", "| target | measured | met? |", "|---|---|---|"]

    def best(row_id, prefix):
        return min(get(row_id, k)["median_us"] for k, *_ in eng if k.startswith(prefix))

    def speedup_targets(rows, needs):
        for row_id in rows:
            tg = get(row_id, "typegrad")["median_us"]
            for prefix, need, name in needs:
                r = best(row_id, prefix) / tg
                md.append(f"| {row_id}: typegrad ≥{need}× faster than {name} (its faster BLAS) | {r:.0f}× | "
                          f"{'yes' if r >= need else 'no'} |")

    def beats_baseline(key, name, kind):
        rows = [r[0] for r in ROWS if covers(key, r[1])]
        slower = [r for r in rows if get(r, key)["median_us"] <= get(r, "typegrad")["median_us"]]
        md.append(f"| typegrad faster than {name} on every {kind} row | slower or equal on: {', '.join(slower) or 'none'} | "
                  f"{'yes' if not slower else 'no'} |")

    def peak_target(row_id, need):
        w = get(row_id, "typegrad")
        if w["pct_peak"] is not None:
            md.append(f"| {row_id} ≥ {need}% of peak | {w['pct_peak']:.1f}% ({w['gflops']:.1f} GFLOP/s) | "
                      f"{'yes' if w['pct_peak'] >= need else 'no'} |")

    speedup_targets(DENSE_B1_TARGETS, (("pytorch", 1000, "PyTorch eager"), ("libtorch", 500, "libtorch")))
    beats_baseline(BASELINE_DENSE, "Eigen", "dense")
    peak_target("wide_b64", 75)
    speedup_targets(CONV_B1_TARGETS, (("pytorch", 200, "PyTorch eager"), ("libtorch", 100, "libtorch")))
    beats_baseline(BASELINE_CONV, "the hand-written direct convolution", "convolutional")
    for row_id in CONV_BATCHED_TARGETS:
        peak_target(row_id, 50)
    examples = [c for c in compile_rows if c["file"].startswith("examples/") and c["cpu_s"] is not None]
    if examples:
        slowest = max(examples, key=lambda c: c["cpu_s"])
        md.append(f"| every example (the flagship included) compiles in ≤ 5 s (CPU time; wall in the table below) | "
                  f"slowest: {slowest['file']} {slowest['cpu_s']:.2f} s CPU, {slowest['wall_s']:.2f} s wall | "
                  f"{'yes' if slowest['cpu_s'] <= 5 else 'no'} |")
    # Issue 12: compile cost against dlib's one-net TU, as ratios measured in this run.
    measured = {c["file"]: c for c in compile_rows if c["cpu_s"] is not None and c["status"] == "ok"}
    dlib = measured.get(DLIB_ONE_NET)
    for f, label, cpu_max, rss_max in ((ONE_NET, "the one-net TU (umbrella header)", 0.25, 0.5),
                                       (flagship_variants.FLAGSHIP, "the flagship TU", 0.35, None),
                                       (CONV_NET, "a conv net TU (compile_cost/conv_net.cpp)", 0.35, None),
                                       (GRU_NET, "a GRU net TU (compile_cost/gru_net.cpp)", 0.35, None)):
        c = measured.get(f)
        if not (dlib and c):
            continue
        cpu = c["cpu_s"] / dlib["cpu_s"]
        rss = c["max_rss_mb"] / dlib["max_rss_mb"]
        want = f"≤ {cpu_max}× dlib's one-net TU in CPU time" + (f" and ≤ {rss_max}× its peak RSS" if rss_max else "")
        met = cpu <= cpu_max and (rss_max is None or rss <= rss_max)
        md.append(f"| {label} {want} | {cpu:.2f}× CPU ({c['cpu_s']:.2f} s vs {dlib['cpu_s']:.2f} s), "
                  f"{rss:.2f}× peak RSS ({c['max_rss_mb']:.0f} MB vs {dlib['max_rss_mb']:.0f} MB) | "
                  f"{'yes' if met else 'no'} |")
    md.append("")

    def compile_table(first_column, rows):
        lines = [f"| {first_column} | wall s | CPU s | peak RSS MB | status |", "|---|---:|---:|---:|---|"]
        for c in rows:
            cells = [f"{c[k]:.2f}" if c[k] is not None else "–" for k in ("wall_s", "cpu_s")]
            rss = f"{c['max_rss_mb']:.0f}" if c["max_rss_mb"] is not None else "–"
            lines.append(f"| {c['file']} | {cells[0]} | {cells[1]} | {rss} | {c['status']} |")
        return lines + [""]

    if compile_rows:
        md += ["## Compile cost", "",
               "One translation unit at a time, the build's own flags (Release, -O3, -march as typegrad), no ccache; "
               "`/usr/bin/time -v` wall time, CPU time (user + system) and peak RSS. The machine is shared, so wall "
               "times are noisy; CPU time is the steadier figure.", ""] + compile_table("file", compile_rows)
    if attribution:
        md += ["### Where the flagship's compile time goes", "",
               "Copies of the flagship compiled with its own command (bench/compile_cost/flagship_variants.py): "
               "without the weights-file I/O, and with that I/O replaced by the least use of nlohmann-json any "
               "safetensors header reader and writer needs (its public `sax_parse` with a handler that does nothing, "
               "and `dump()`: bench/compile_cost/nlohmann_floor.hpp); a TU that only includes nlohmann-json; and "
               "the flagship as a header-only user compiles it (`TYPEGRAD_HEADER_ONLY`: what the typegrad library "
               "saves it).", ""
               ] + compile_table("variant", attribution)
    md += ["Files: results.csv (every row and engine, with the per-round samples), compile.csv, chart.png.", ""]
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(md))
    chart(table, eng, os.path.join(a.out, "chart.png"))
    print("\n".join(md))


def chart(table, eng, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 5
    fig, axes = plt.subplots((len(ROWS) + cols - 1) // cols, cols, figsize=(22, 4.5 * ((len(ROWS) + cols - 1) // cols)))
    palette = ["#d62728", "#1f77b4", "#9467bd", "#2ca02c", "#98df8a", "#ff7f0e", "#ffbb78"]
    color_of = {k: palette[i % len(palette)] for i, (k, *_) in enumerate(eng)}
    for ax in axes.flat[len(ROWS):]:
        ax.axis("off")
    for ax, (row_id, net, batch, inference) in zip(axes.flat, ROWS):
        keys = [k for k, *_ in eng if covers(k, net)]
        rows = [next(t for t in table if t["row"] == row_id and t["engine"] == k) for k in keys]
        colors = [color_of[k] for k in keys]
        med = [r["median_us"] for r in rows]
        err = [[m - r["min_us"] for m, r in zip(med, rows)], [r["max_us"] - m for m, r in zip(med, rows)]]
        ax.bar(range(len(rows)), med, yerr=err, color=colors, capsize=3)
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(keys, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{net} b{batch} {'inference' if inference else 'train'}", fontsize=10)
        ax.set_ylabel("µs per step (log)")
        for i, m in enumerate(med):
            ax.text(i, m, fmt_us(m), ha="center", va="bottom", fontsize=7)
    fig.suptitle("typegrad vs hand-written baselines (Eigen: dense, direct loops: conv), libtorch, PyTorch eager — "
                 "float32, one thread; median with min–max over rounds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
