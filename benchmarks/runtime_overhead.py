"""classify() on a ready frame vs the raw interpreter.invoke(), measured in one run.

    .venv/bin/python benchmarks/runtime_overhead.py [--runs 300] [--threads N]

A "ready frame" is an RGB uint8 frame already at the model's input size, so what is
measured is edgevision's own cost around invoke(): preprocessing (none for a raw-input
int8 model), set_tensor, get_tensor, dequantize and top-k. Both series run on the same
interpreter, interleaved in blocks so that load changes hit both. Target: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.runtime_common import bench_model, loadavg
from edgevision.bench.latency import time_calls
from edgevision.runtime.classifier import Classifier, ClassifierOptions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    model = args.model or bench_model()
    clf = Classifier(model, options=ClassifierOptions(threads=args.threads, top_k=5))
    spec = clf.spec
    frame = np.random.default_rng(0).integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8)
    interp = clf.interpreter
    interp.set_tensor(clf.input_index, clf.preprocess(frame))
    raw, full = [], []
    for _ in range(max(1, args.runs // 50)):  # interleave blocks of 50
        raw += time_calls(interp.invoke, 50, 5)
        full += time_calls(lambda: clf.classify(frame), 50, 5)
    r50, f50 = float(np.median(raw)), float(np.median(full))
    rmean, fmean = float(np.mean(raw)), float(np.mean(full))
    ratio = f50 / r50
    print(f"model {model.name}: input {spec.width}x{spec.height} {clf.preprocessor.quant.dtype} "
          f"({clf.preprocessor.mode}), {clf.info.name} {clf.info.version}, {args.threads} thread(s), "
          f"load {loadavg()}")
    print(f"invoke()   p50 {r50:.3f} ms  mean {rmean:.3f} ms  ({len(raw)} runs)")
    print(f"classify() p50 {f50:.3f} ms  mean {fmean:.3f} ms  ({len(full)} runs)")
    print(f"ratio classify/invoke: p50 {ratio:.4f}  mean {fmean / rmean:.4f}  (target <= 1.05)  "
          f"{'PASS' if ratio <= 1.05 else 'FAIL'}")
    return 0 if ratio <= 1.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
