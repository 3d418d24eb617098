"""[TF] Per-layer quantization error, measured with TensorFlow Lite's quantization debugger.

The debugger runs a model in which every quantized op is paired with its float twin fed
the same (dequantized) input, so each layer's own error is measured, not the error it
inherits. Two numbers per layer:

- ``rmse/scale``: RMS error in units of the output's quantization step. ~0.29 is pure
  rounding; well above that, the layer's weights or arithmetic lose precision.
- ``channel_error``: RMS error / RMS value, per output channel, averaged over channels.
  This is what catches activation outliers: one channel with a 100x range makes the
  per-tensor step so coarse that every other channel rounds to nothing, while
  ``rmse/scale`` still looks like plain rounding.

Layers are ranked by ``channel_error`` (ties by ``rmse/scale``).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgevision.convert.quantize import debug_model

DEBUG_IMAGES = 48  # enough for stable statistics; the debugger is the slow part


@dataclass(frozen=True)
class LayerError:
    op: str
    tensor: str             # output tensor name in the calibrated model (what denylisting matches)
    channel_error: float
    rmse_scale: float
    scale: float
    order: int = 0          # position in the model (the debugger reports ops in execution order)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "tensor": self.tensor, "channel_error": round(self.channel_error, 5),
                "rmse_scale": round(self.rmse_scale, 4), "scale": self.scale}


def _channel_error(float_values: np.ndarray, quant_values: np.ndarray, scale: float, zero_point: int) -> float:
    f = np.asarray(float_values, np.float64)
    d = (np.asarray(quant_values, np.float64) - zero_point) * scale
    if f.ndim == 0 or f.size == 0:
        return 0.0
    f, d = f.reshape(-1, f.shape[-1]), d.reshape(-1, d.shape[-1])
    if f.shape[0] < 2:  # a vector (dense layer output): one "channel"
        rms = float(np.sqrt(np.mean(f ** 2)))
        return float(np.sqrt(np.mean((f - d) ** 2)) / rms) if rms > 0 else 0.0
    err = np.sqrt(np.mean((f - d) ** 2, axis=0))
    rms = np.sqrt(np.mean(f ** 2, axis=0))
    alive = rms > 1e-3 * max(float(rms.max()), 1e-12)  # dead channels (always ~0) carry no signal to lose
    return float(np.mean(err[alive] / rms[alive])) if alive.any() else 0.0


def layer_errors(calibrated: bytes, images: np.ndarray, max_images: int = DEBUG_IMAGES) -> list[LayerError]:
    """Every quantized layer's error on (a subset of) the calibration images, worst first."""
    import tensorflow as tf

    sample = images[:: max(1, len(images) // max_images)][:max_images].astype(np.float32)

    def dataset() -> Iterator[list[np.ndarray]]:
        for i in range(len(sample)):
            yield [sample[i:i + 1]]

    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"channel_error": _channel_error})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the debugger still builds tf.lite.Interpreter, which warns it is deprecated
        debugger = tf.lite.experimental.QuantizationDebugger(
            quant_debug_model_content=debug_model(calibrated), debug_dataset=dataset, debug_options=options)
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    out = []
    for i, row in enumerate(csv.DictReader(io.StringIO(dump.getvalue()))):
        scale = float(row["scale"]) or 1.0
        out.append(LayerError(op=row["op_name"], tensor=row["tensor_name"],
                              channel_error=_finite(row.get("channel_error")),
                              rmse_scale=_finite(np.sqrt(max(float(row["mean_squared_error"]), 0.0)) / scale),
                              scale=float(row["scale"]), order=i))
    return sorted(out, key=lambda e: (-e.channel_error, -e.rmse_scale))


def _finite(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return x if np.isfinite(x) else 0.0
