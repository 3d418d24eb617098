"""[TF] Keras model -> TFLite bytes in one of four precisions.

Calibration images go through the runtime's own resize (``resize_to_spec``), so the int8
ranges are measured on exactly the pixels the device will feed.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.data.discover import Sample
from edgevision.data.loader import load_pixels
from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec

QUANT_MODES = ("int8", "float16", "dynamic", "float32")
IO_TYPES = ("uint8", "int8")


def load_keras(path: str | Path) -> Any:
    """Load a saved Keras model; one-line BadInput if the file is missing or corrupt."""
    import keras

    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: Keras model not found (train first: edgevision train DATA --out RUN)")
    try:
        return keras.models.load_model(p, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
        raise BadInput(f"{p}: cannot load Keras model ({first})") from None


def calibration_set(samples: Sequence[Sample], spec: PreprocessSpec, size: int, seed: int = 0) -> np.ndarray:
    """Up to ``size`` training images, stratified per class, as uint8 NHWC; unreadable ones skipped."""
    if size <= 0:
        raise BadInput("calibration size must be at least 1")
    by_class: dict[int, list[Sample]] = {}
    for s in samples:
        by_class.setdefault(s.label, []).append(s)
    if not by_class:
        raise BadInput("calibration set is empty: the run has no training images")
    rng = random.Random(seed)
    for group in by_class.values():
        rng.shuffle(group)
    # round-robin over classes so every class is represented even for small sizes
    picked: list[Sample] = []
    depth = 0
    while len(picked) < size and any(depth < len(g) for g in by_class.values()):
        for label in sorted(by_class):
            if depth < len(by_class[label]) and len(picked) < size:
                picked.append(by_class[label][depth])
        depth += 1
    images = [img for img, ok in (load_pixels(s.path, spec) for s in picked) if ok]
    if not images:
        raise BadInput("calibration set is empty: none of the training images could be read")
    return np.stack(images)


def to_tflite(model: Any, mode: str, calibration: np.ndarray | None = None, io_type: str = "uint8") -> bytes:
    """Convert; ``int8`` is full-integer (integer weights and activations, ``io_type`` I/O)."""
    import tensorflow as tf

    if mode not in QUANT_MODES:
        raise BadInput(f"unknown quantization {mode!r}; use one of {', '.join(QUANT_MODES)}")
    _check_static(model)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if calibration is None or len(calibration) == 0:
            raise BadInput("int8 quantization needs a non-empty calibration set")
        if io_type not in IO_TYPES:
            raise BadInput(f"unknown int8 I/O type {io_type!r}; use uint8 or int8")
        data = calibration.astype(np.float32)

        def representative() -> Any:
            for i in range(len(data)):
                yield [data[i:i + 1]]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8 if io_type == "uint8" else tf.int8
        conv.inference_output_type = conv.inference_input_type
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras' export prints "Saved artifact at ..."
            return bytes(conv.convert())
    except Exception as exc:  # noqa: BLE001 - converter errors are long MLIR dumps
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
        raise BadInput(f"TFLite conversion ({mode}) failed: {first}") from None


def _check_static(model: Any) -> None:
    shape = tuple(model.inputs[0].shape)
    if len(model.inputs) != 1:
        raise BadInput(f"model has {len(model.inputs)} inputs; an image classifier needs exactly one")
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise BadInput(f"model input shape {shape} is dynamic; rebuild it with a fixed height, width and channels")
