"""A paced camera faster than the model: throughput and glass-to-label latency, measured in one run.

    .venv/bin/python benchmarks/suites/bench_overload.py [--seconds 10] [--size 224]

(bench_pipeline.py pulls frames as fast as the model takes them; here a camera pushes them at its
own rate, as a real one does.)

1. Throughput: a 640x480 camera faster than the model (2x its invoke rate). Pipeline FPS
   (resize 640x480 -> input, infer, rank, one event each) vs 1 / invoke p50.   Target >= 0.8.
2. Overload: the camera 3x faster than the model. p99 glass-to-label latency (frame handed
   over by the camera -> label emitted) vs the inference period (1 / pipeline FPS). Target < 2.
   Frames the model cannot take are dropped by the latest-frame slot, not queued.

Interpreter threads: cores - 1 (one core stays with the capture thread), for the pipeline
and for the invoke reference alike.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.models import mobilenet_v2
from benchmarks.lib.paced_camera import PacedCamera, loadavg, verdict
from edgevision.bench.latency import time_calls
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.interpreter import default_threads


def invoke_ms(clf: Classifier, runs: int = 100) -> float:
    spec = clf.spec
    frame = np.random.default_rng(0).integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8)
    clf.interpreter.set_tensor(clf.input_index, clf.preprocess(frame))
    return float(np.median(time_calls(clf.interpreter.invoke, runs, 10)))


def run_pipeline(clf: Classifier, fps: float, seconds: float, warmup_s: float = 1.0) -> dict[str, float]:
    stop = threading.Event()
    pipe = Pipeline(clf, PacedCamera(fps), PipelineOptions(), stop)
    lat, t_first, n, dropped0 = [], None, 0, 0
    t0 = time.perf_counter()
    for event in pipe.events():
        now = time.perf_counter()
        if now - t0 < warmup_s:
            dropped0 = event.dropped
            continue
        if t_first is None:
            t_first = now
        n += 1
        lat.append(event.latency_ms)
        if now - t_first >= seconds:
            stop.set()
    elapsed = time.perf_counter() - (t_first or t0)
    return {"fps": n / elapsed, "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(np.max(lat)), "events": n, "dropped": pipe.stats.dropped - dropped0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=224, help="MobileNetV2 input size (px)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    model = args.model or mobilenet_v2(args.size)["int8"]
    threads = args.threads or default_threads(capture_thread=True)
    clf = Classifier(model, options=ClassifierOptions(threads=threads, top_k=3))
    t_inv = invoke_ms(clf)
    model_fps = 1000.0 / t_inv
    print(f"model {model.name}, {clf.info.name} {clf.info.version}, {threads} thread(s), load {loadavg()}")
    print(f"invoke p50 {t_inv:.3f} ms -> model rate {model_fps:.1f}/s")
    ok = True

    thr = run_pipeline(clf, 2 * model_fps, args.seconds)
    t_inv2 = invoke_ms(clf)  # again after, so drift during the run shows
    ratio = thr["fps"] * ((t_inv + t_inv2) / 2) / 1000.0
    ok &= ratio >= 0.8
    print(f"[throughput] 640x480 camera at {2 * model_fps:.0f} FPS: pipeline {thr['fps']:.1f} FPS "
          f"({thr['events']:.0f} events, {thr['dropped']:.0f} dropped); invoke p50 before/after "
          f"{t_inv:.3f}/{t_inv2:.3f} ms")
    print(f"[throughput] ratio pipeline FPS / (1/invoke) = {ratio:.3f}  (target >= 0.8)  "
          f"{'PASS' if ratio >= 0.8 else 'FAIL'}")

    over = run_pipeline(clf, 3 * model_fps, args.seconds)
    period = 1000.0 / over["fps"]
    r99 = over["p99_ms"] / period
    ok &= r99 < 2.0
    print(f"[overload] camera at {3 * model_fps:.0f} FPS (3x the model): pipeline {over['fps']:.1f} FPS, "
          f"{over['dropped']:.0f} frames dropped; glass-to-label p50 {over['p50_ms']:.2f} ms, p99 "
          f"{over['p99_ms']:.2f} ms, max {over['max_ms']:.2f} ms; inference period {period:.2f} ms")
    print(f"[overload] ratio p99 latency / inference period = {r99:.3f}  (target < 2)  "
          f"{'PASS' if r99 < 2 else 'FAIL'}")
    return verdict(ok)


if __name__ == "__main__":
    raise SystemExit(main())
