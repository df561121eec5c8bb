#!/usr/bin/python3
"""Runs sbgan's benchmarks and the same workloads in PyTorch, alternately, in one
invocation, and prints one table: workload, sbgan median, PyTorch median, ratio
(PyTorch time / sbgan time; above 1 means sbgan is faster).

PyTorch runs at its best, as BENCHMARKS.md asks: 2 threads, OpenBLAS rather than
the reference BLAS, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for its process.

Usage: /usr/bin/python3 bench/compare_torch.py --bench build/bench/sbgan_bench [--rounds 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

# workload name (as in bench/) -> PyTorch snippet: setup and one timed step.
TORCH_WORKLOADS = {
    "W1_conv3x3/fwd": (
        "conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False)\n"
        "x = torch.randn(1, 256, 64, 128)\n",
        "with torch.no_grad():\n    y = conv(x)\n"),
    "W1_conv3x3/bwd": (
        "conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False)\n"
        "x = torch.randn(1, 256, 64, 128, requires_grad=True)\n"
        "y = conv(x)\ndy = torch.randn_like(y)\n",
        "torch.autograd.grad(y, [x, conv.weight], dy, retain_graph=True)\n"),
    "ceiling/gemm_f32/2048": (
        "a = torch.randn(2048, 2048)\nb = torch.randn(2048, 2048)\n",
        "c = a @ b\n"),
}

TORCH_RUNNER = r"""
import resource, sys, time, torch
torch.set_num_threads(2)
{setup}
def step():
{step}
for _ in range(2):
    step()
times = []
deadline = time.perf_counter() + {seconds}
while len(times) < 3 or time.perf_counter() < deadline:
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def torch_env():
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["OMP_NUM_THREADS"] = "2"
    return env


def run_torch(name, seconds):
    setup, step = TORCH_WORKLOADS[name]
    step = "".join("    " + line + "\n" for line in step.splitlines())
    code = TORCH_RUNNER.format(setup=setup, step=step, seconds=seconds)
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=torch_env(), check=True, capture_output=True, text=True)
    t, rss_kb = out.stdout.split()
    return float(t), int(rss_kb)


def run_sbgan(bench, name, seconds):
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    out = subprocess.run([bench, "--benchmark_filter=^" + name + "(/real_time)?$", "--benchmark_format=json",
                          "--benchmark_min_time=%g" % seconds], env=env, check=True, capture_output=True, text=True)
    runs = json.loads(out.stdout)["benchmarks"]
    if not runs:
        raise SystemExit("sbgan benchmark %s not found" % name)
    r = runs[0]
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[r["time_unit"]]
    return r["real_time"] * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path to the sbgan_bench executable")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0, help="minimum time per measurement")
    ap.add_argument("--filter", default="", help="only workloads containing this text")
    args = ap.parse_args()
    rows = []
    for name in TORCH_WORKLOADS:
        if args.filter not in name:
            continue
        ours, theirs, rss = [], [], 0
        for _ in range(args.rounds):  # alternate, so drifts in machine load hit both sides
            ours.append(run_sbgan(args.bench, name, args.seconds))
            t, r = run_torch(name, args.seconds)
            theirs.append(t)
            rss = max(rss, r)
        a, b = statistics.median(ours), statistics.median(theirs)
        rows.append((name, a, b, b / a))
        print("%-26s sbgan %9.2f ms   torch %9.2f ms   ratio %.2f" % (name, a * 1e3, b * 1e3, b / a), file=sys.stderr)
    print("| workload | sbgan median (ms) | PyTorch median (ms) | ratio (PyTorch / sbgan) |")
    print("|---|---|---|---|")
    for name, a, b, ratio in rows:
        print("| %s | %.2f | %.2f | %.2f |" % (name, a * 1e3, b * 1e3, ratio))


if __name__ == "__main__":
    main()
