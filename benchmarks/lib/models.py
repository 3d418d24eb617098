"""Benchmark models: Keras MobileNetV2 (random weights, no download) converted to float32 and int8.

Invoke takes a few milliseconds at 160 px on one core, long enough for ratios to mean
something and short enough for many runs. Built once with TensorFlow and cached
(``$EDGEVISION_BENCH_CACHE``, default ~/.cache/edgevision/benchmarks), keyed by TF version.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("EDGEVISION_BENCH_CACHE") or Path.home() / ".cache" / "edgevision" / "benchmarks"
    return Path(root)


def mobilenet_v2(size: int = 160, alpha: float = 1.0) -> dict[str, Path]:
    """Paths of ``{"float32": ..., "int8": ...}`` MobileNetV2 files at ``size`` px."""
    out = cache_dir() / f"tf{_tf_version()}"
    paths = {q: out / f"mobilenet_v2_{alpha}_{size}_{q}.tflite" for q in ("float32", "int8")}
    if all(p.exists() for p in paths.values()):
        return paths  # no TensorFlow import: it would sit in the measuring process for nothing
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=alpha, weights=None)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    paths["float32"].write_bytes(conv.convert())

    def rep():  # calibration on noise: fine for timing, meaningless for accuracy
        rng = np.random.default_rng(0)
        for _ in range(16):
            yield [rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32)]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    paths["int8"].write_bytes(conv.convert())
    return paths


def _tf_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    raise SystemExit("the benchmark models are built with TensorFlow: run with .venv/bin/python (make venvs)")


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
