"""The bench's own overhead: `edgevision bench`'s p50 vs a bare invoke() loop timed in the same run.

Both time the same int8 MobileNetV2 (160 px, a few ms per invoke) with the same thread
count, in alternating rounds so drift and other load hit both alike. The target: the
bench's p50 within 3 % of the bare loop's.

    .venv/bin/python benchmarks/suites/bench_overhead.py [--rounds 7] [--runs 200] [--threads 1] [--model M.tflite]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.models import median, mobilenet_v2
from edgevision.bench.latency import bench_model


def bare_loop(path: Path, runs: int, warmup: int, threads: int) -> tuple[float, float]:
    """(p50 of individually timed invokes, mean of one untimed-inside loop), ms."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    d = interp.get_input_details()[0]
    rng, dtype = np.random.default_rng(0), np.dtype(d["dtype"])
    if dtype.kind in "iu":  # uint8 or int8 input: the whole range of the type
        x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, d["shape"]).astype(dtype)
    else:
        x = rng.random(d["shape"]).astype(dtype)
    interp.set_tensor(d["index"], x)
    for _ in range(warmup):
        interp.invoke()
    clock, samples = time.perf_counter, []
    for _ in range(runs):
        t0 = clock()
        interp.invoke()
        samples.append((clock() - t0) * 1e3)
    t0 = clock()
    for _ in range(runs):
        interp.invoke()
    return float(np.median(samples)), (clock() - t0) * 1e3 / runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", type=Path, default=None,
                    help="an int8 .tflite to time instead of MobileNetV2 160 (built once, lib/models.py)")
    args = ap.parse_args()
    model = args.model or mobilenet_v2(160)["int8"]
    bench_p50, bench_mean, bare_p50, bare_mean = [], [], [], []
    for i in range(args.rounds):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for which in order:
            if which == 0:
                r = bench_model(model, runs=args.runs, warmup=20, threads=args.threads)
                bench_p50.append(r.invoke.p50)
                bench_mean.append(r.invoke.mean)
            else:
                p50, mean = bare_loop(model, args.runs, 20, args.threads)
                bare_p50.append(p50)
                bare_mean.append(mean)
    ratio = median(bench_p50) / median(bare_p50)
    print(f"model: {model.name}, {args.threads} thread(s), {args.rounds} alternating rounds x {args.runs} runs")
    print(f"edgevision bench p50 {median(bench_p50):.3f} ms | bare invoke() loop p50 {median(bare_p50):.3f} ms "
          f"| mean of an untimed loop {median(bare_mean):.3f} ms")
    print(f"ratio bench p50 / bare p50 = {ratio:.4f}   (target: within 3 %)")
    print(f"ratio bench mean / untimed-loop mean = {median(bench_mean) / median(bare_mean):.4f}")
    ok = abs(ratio - 1) <= 0.03
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
