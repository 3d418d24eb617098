"""Pipeline FPS vs 1/invoke, in one run: how much of the model's speed the whole path keeps.

The real Pipeline pulls synthetic 640x480 frames as fast as the model takes them
(capture is free, so the gap is preprocessing, postprocessing and the loop).

    .venv/bin/python benchmarks/suites/bench_pipeline.py [--frames 300] [--threads 1] [--model M.tflite]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.models import median, mobilenet_v2
from edgevision.bench.latency import bench_model
from edgevision.bench.pipeline_bench import PipelineSpec, bench_pipeline


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", type=Path, default=None,
                    help="an int8 .tflite to time instead of MobileNetV2 160 (built once, lib/models.py)")
    args = ap.parse_args()
    model = args.model or mobilenet_v2(160)["int8"]
    invoke, invoke_mean, fps, g2l, pre = [], [], [], [], []
    for _ in range(args.rounds):
        r = bench_model(model, runs=args.frames, warmup=10, threads=args.threads)
        invoke.append(r.invoke.p50)
        invoke_mean.append(r.invoke.mean)
        p = bench_pipeline(model, PipelineSpec("synthetic:640x480", frames=args.frames), threads=args.threads)
        fps.append(p["fps"])
        g2l.append(p["latency"]["p50"])
        pre.append(p["stages"]["preprocess"]["p50"])
    inv, f = median(invoke), median(fps)
    print(f"model: {model.name}, {args.threads} thread(s), {args.rounds} rounds x {args.frames} frames (640x480)")
    print(f"invoke p50 {inv:.3f} ms (1/invoke = {1000 / inv:.1f} FPS) | pipeline {f:.1f} FPS | "
          f"glass-to-label p50 {median(g2l):.3f} ms | preprocess p50 {median(pre):.3f} ms")
    print(f"ratio pipeline FPS / (1/invoke p50) = {f * inv / 1000:.4f}")
    print(f"ratio pipeline FPS / (1/invoke mean) = {f * median(invoke_mean) / 1000:.4f}   (FPS counts every stall, "
          "like a mean; p50 does not)")
    print(f"ratio glass-to-label p50 / invoke p50 = {median(g2l) / inv:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
