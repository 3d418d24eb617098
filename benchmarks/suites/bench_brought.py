"""Bring your own model, per source format in one run: the original framework vs edgevision's int8.

Builds the third-party-style models of ``tests/convert`` (a Teachable-Machine-layout Keras 2 .h5, its
float .tflite, a PyTorch CNN as ONNX and as .pt2; nothing downloaded) on the shared sign-language
digits, converts each with ``edgevision convert MODEL --data ...`` (int8, the gate, through the device
runtime) and prints, per format: the original model's test accuracy in its own framework, the int8
model's, their top-1 agreement, and the size and latency ratios int8 ÷ original (batch 1, medians,
same run). ONNX/PyTorch rows need the converter venv (``make .venv-convert/.installed``).

    .venv/bin/python benchmarks/suites/bench_brought.py [--train-per-class 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the checkout: edgevision, tests


def _keras_latency_ms(h5: Path, runs: int = 50) -> float:
    import tensorflow as tf
    import tf_keras as k

    model = k.models.load_model(h5, compile=False)
    x = tf.constant(np.zeros((1, *model.input_shape[1:]), np.float32))
    call = tf.function(lambda t: model(t, training=False))  # graph mode: Keras' own fast path, not eager overhead
    for _ in range(5):
        call(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call(x).numpy()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def _tflite_latency_ms(path: Path) -> float:
    from edgevision.bench.latency import bench_model

    return float(bench_model(path, runs=50, warmup=5).invoke.p50)


def _convert(python: str, model: Path, out: Path, *args: str | Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([python, "-m", "edgevision", "convert", str(model), "--quant", "int8", "--out", str(out),
                           "--max-drop", "100", "--json", *map(str, args)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"convert {model.name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def _int8_top1(report: dict, data: Path) -> dict[str, int]:
    from edgevision.runtime.classifier import Classifier

    clf = Classifier(report["variants"][report["quant"]]["path"])
    files = sorted(str(f) for f in (data / "test").rglob("*") if f.is_file())
    return {f: int(np.argmax(clf.scores(f))) for f in files}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-per-class", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from tests.conftest import SHARED_DATA
    from tests.convert.brought import float_tflite, keras_predict, subset, teachable_machine

    conv_py = os.environ.get("EDGEVISION_CONVERT_PYTHON") or str(REPO / ".venv-convert/bin/python")
    tmp = Path(tempfile.mkdtemp(prefix="edgevision-brought-"))
    data = subset(SHARED_DATA, tmp / "data", {"train": a.train_per_class, "test": 10_000})
    truth = {str(f): int(f.parent.name) for f in (data / "test").rglob("*") if f.is_file()}
    h5, labels = teachable_machine(data, tmp / "tm")
    tfl = float_tflite(h5, tmp / "tm" / "model.tflite")
    kpred, kfiles = keras_predict(h5, data)
    keras_top1 = {f: int(p) for f, p in zip(kfiles, kpred, strict=True)}
    klat = _keras_latency_ms(h5)
    rows = [("keras2 .h5 (tf_keras)", h5, sys.executable, ("--preset", "teachable-machine"), keras_top1, klat),
            ("float .tflite", tfl, sys.executable, ("--norm", "symmetric", "--crop", "center"), keras_top1,
             _tflite_latency_ms(tfl))]
    if Path(conv_py).exists():
        tdir = tmp / "torch"
        subprocess.run([conv_py, "-m", "tests.convert.torch_models", str(data), str(tdir)], check=True,
                       capture_output=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
        ttop1 = {f: int(i) for f, i in json.loads((tdir / "torch_top1.json").read_text()).items()}
        for name, f in (("onnx (from PyTorch)", tdir / "net.onnx"), ("pytorch .pt2", tdir / "net.pt2")):
            lat = json.loads(subprocess.run([conv_py, "-m", "tests.convert.torch_models", "--latency", str(f)],
                                            check=True, capture_output=True, text=True, cwd=REPO,
                                            env=dict(os.environ, PYTHONPATH=str(REPO))).stdout)["ms"]
            rows.append((name, f, conv_py, ("--labels", tdir / "labels.txt", "--norm", "imagenet", "--crop",
                                            "center"), ttop1, lat))
    else:
        print(f"(no converter venv at {conv_py}: ONNX and PyTorch rows skipped)", file=sys.stderr)
    results = []
    for name, model, py, extra, orig_top1, orig_ms in rows:
        lab = () if "--labels" in extra else ("--labels", labels)
        r = _convert(py, model, tmp / f"out-{model.stem}-{model.suffix[1:]}", "--data", data, *lab, *extra)
        q = _int8_top1(r, data)
        v = r["variants"][r["quant"]]
        size = model.stat().st_size
        results.append({
            "format": name, "images": len(truth),
            "original_accuracy": round(float(np.mean([orig_top1[f] == y for f, y in truth.items()])), 4),
            "int8_accuracy": round(float(np.mean([q[f] == y for f, y in truth.items()])), 4),
            "agreement": round(float(np.mean([q[f] == orig_top1[f] for f in truth])), 4),
            "float_check_max_diff": r["source"]["float_check"]["max_abs_score_diff"],
            "size_ratio": round(v["size_bytes"] / size, 3), "latency_ratio": float(f"{v['latency_ms'] / orig_ms:.3g}"),
            "original_ms": round(orig_ms, 3), "int8_ms": v["latency_ms"], "route": r["source"]["route"]})
    if a.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'format':<24}{'orig acc':>9}{'int8 acc':>9}{'agree':>7}{'size ×':>8}{'latency ×':>10}"
          f"{'orig ms':>9}{'int8 ms':>9}  (test split, {len(truth)} images, int8 ÷ original)")
    for x in results:
        print(f"{x['format']:<24}{x['original_accuracy']:>9.3f}{x['int8_accuracy']:>9.3f}{x['agreement']:>7.3f}"
              f"{x['size_ratio']:>8.3f}{x['latency_ratio']:>10.3g}{x['original_ms']:>9.3f}{x['int8_ms']:>9.3f}")


if __name__ == "__main__":
    main()
