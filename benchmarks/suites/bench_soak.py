"""Soak: the full pipeline for a long time, RSS sampled; growth after warm-up must stay < 5 MB.

    .venv/bin/python benchmarks/suites/bench_soak.py [--minutes 1] [--warmup 10] [--fps 30]

`make bench` runs it for one minute; the recorded figure is a 10-minute run
(``--minutes 10 --warmup 30 --every 30``, results/2026-11-28-runtime-suites-dev-vm.md).

A paced 640x480 camera feeds the pipeline; every event goes through a FanOut to a JSON-lines
file sink (/dev/null) and the live web view (with no viewer, as on an unattended device).
RSS (current, from /proc) is sampled every --every seconds; growth = last sample minus the
first sample after --warmup seconds. Not part of CI.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.models import mobilenet_v2
from benchmarks.lib.paced_camera import PacedCamera, loadavg, rss_mb
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.interpreter import default_threads
from edgevision.sinks.fanout import FanOut
from edgevision.sinks.jsonl import JsonlSink
from edgevision.sinks.webview import WebView


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=224, help="MobileNetV2 input size (px)")
    ap.add_argument("--every", type=float, default=10.0)
    args = ap.parse_args()
    model = args.model or mobilenet_v2(args.size)["int8"]
    clf = Classifier(model, options=ClassifierOptions(threads=default_threads(capture_thread=True)))
    stop = threading.Event()
    sinks = FanOut([JsonlSink("/dev/null"), WebView(port=0)])
    pipe = Pipeline(clf, PacedCamera(args.fps), PipelineOptions(smooth=5), stop)
    samples: list[tuple[float, float]] = []
    t0 = time.monotonic()
    next_sample = t0 + args.warmup
    end = t0 + args.warmup + args.minutes * 60
    n = 0
    print(f"soak: {model.name}, camera {args.fps:g} FPS 640x480, {args.minutes:g} min after {args.warmup:g} s "
          f"warm-up, load {loadavg()}; RSS at start {rss_mb():.1f} MB", flush=True)
    try:
        for event, frame in pipe.results():
            sinks.emit(event, frame)
            n += 1
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - t0, rss_mb()))
                print(f"  t={now - t0:6.0f} s  events {n:7d}  RSS {samples[-1][1]:7.1f} MB", flush=True)
                next_sample += args.every
            if now >= end:
                stop.set()
    finally:
        sinks.close()
    growth = samples[-1][1] - samples[0][1]
    peak = max(r for _, r in samples) - samples[0][1]
    print(f"soak: {n} events in {samples[-1][0]:.0f} s ({n / samples[-1][0]:.1f}/s), {pipe.stats.dropped} dropped; "
          f"RSS {samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB: growth {growth:+.2f} MB (peak {peak:+.2f}) "
          f"over {(samples[-1][0] - samples[0][0]) / 60:.1f} min  (target < 5 MB)  {'PASS' if growth < 5 else 'FAIL'}")
    return 0 if growth < 5 else 1  # memory growth does not depend on the machine's load: always judged


if __name__ == "__main__":
    raise SystemExit(main())
