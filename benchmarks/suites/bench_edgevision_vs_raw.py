"""edgevision's inference path vs the raw interpreter, measured in one run.

- ``Classifier.infer`` (set_tensor + invoke + get_tensor + dequantize) vs the raw
  set_tensor + invoke + get_tensor: the cost of the wrapper around the model;
- ``Classifier.classify`` on a 640x480 frame (resize, quantize, infer, top-k) vs raw
  invoke alone: what a user pays per frame beyond the model.

    .venv/bin/python benchmarks/suites/bench_edgevision_vs_raw.py [--runs 300] [--threads 1] [--model M.tflite]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.models import median, mobilenet_v2
from edgevision.bench.latency import time_calls
from edgevision.runtime.classifier import Classifier, ClassifierOptions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", type=Path, default=None,
                    help="an int8 .tflite to time instead of MobileNetV2 160 (built once, lib/models.py)")
    args = ap.parse_args()
    from ai_edge_litert.interpreter import Interpreter

    model = args.model or mobilenet_v2(160)["int8"]
    clf = Classifier(model, options=ClassifierOptions(threads=args.threads, normalization="raw"))
    raw = Interpreter(model_path=str(model), num_threads=args.threads)
    raw.allocate_tensors()
    i, o = raw.get_input_details()[0], raw.get_output_details()[0]
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    tensor = clf.preprocess(frame)

    def raw_call() -> None:
        raw.set_tensor(i["index"], tensor)
        raw.invoke()
        raw.get_tensor(o["index"])

    series: dict[str, list[float]] = {"infer": [], "raw": [], "classify": [], "invoke": []}
    for r in range(args.rounds):
        jobs = [("infer", lambda: clf.infer(tensor)), ("raw", raw_call), ("classify", lambda: clf.classify(frame)),
                ("invoke", raw.invoke)]
        for name, fn in jobs if r % 2 == 0 else jobs[::-1]:
            series[name].append(float(np.median(time_calls(fn, args.runs, 10))))
    m = {k: median(v) for k, v in series.items()}
    print(f"model: {model.name}, {args.threads} thread(s), {args.rounds} rounds x {args.runs} calls; p50 in ms")
    print(f"Classifier.infer {m['infer']:.3f} | raw set+invoke+get {m['raw']:.3f} | "
          f"Classifier.classify(640x480 frame) {m['classify']:.3f} | raw invoke {m['invoke']:.3f}")
    print(f"ratio Classifier.infer / raw set+invoke+get = {m['infer'] / m['raw']:.4f}")
    print(f"ratio Classifier.classify(frame) / raw invoke = {m['classify'] / m['invoke']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
