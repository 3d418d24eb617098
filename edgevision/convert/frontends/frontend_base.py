"""[TF] What every front-end hands the converter: one float graph, its original-framework reference.

A ``BroughtModel`` is the common shape of a Keras file, a SavedModel, an ONNX file, a PyTorch
program or a float .tflite once loaded: a single NHWC image input of known size, a
``(1, classes)`` output, a way to build a ``TFLiteConverter`` for it (batch 1, a softmax
appended when the model ends in logits), and ``reference`` — the original model run by its
own framework on the same preprocessed pixels, which the float32 TFLite must match before
anything is quantized. The quantizer (``convert/quantize.py``) calls ``tflite_converter``
(or ``calibrate`` for a .tflite) and otherwise does not know where the model came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgevision.errors import BadInput

OUTPUT_KINDS = ("auto", "probabilities", "logits")


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def looks_like_probabilities(scores: np.ndarray) -> bool:
    """Every row non-negative and summing to 1 (what a final softmax gives); logits almost never do."""
    return bool(scores.size and np.all(scores >= -1e-6) and np.allclose(scores.sum(axis=-1), 1.0, atol=1e-3))


@dataclass
class BroughtModel:
    """A loaded third-party classifier (mutable only while the front-end finishes it: ``add_softmax``)."""

    kind: str                      # keras | keras2 | savedmodel | onnx | pytorch | tflite
    origin: str                    # the file, for error lines
    height: int | None
    width: int | None
    channels: int
    classes: int
    # original framework on normalized float32 NHWC pixels (batch, h, w, c) -> raw model outputs
    run_original: Callable[[np.ndarray], np.ndarray]
    # a TensorFlow function on normalized float32 NHWC (1, h, w, c) -> raw outputs, for TFLiteConverter
    tf_function: Callable[[Any], Any] | None = None
    keepalive: Any = None          # objects tf_function closes over (a loaded SavedModel)
    float_tflite: bytes | None = None  # the .tflite source: already a float TFLite model
    float32_bytes: bytes | None = None  # its float32 TFLite once converted (the float check), reused after
    from_model: tuple[tuple[float, ...], tuple[float, ...], str] | None = None  # normalization it declares
    labels: tuple[str, ...] | None = None  # labels it carries (TFLite metadata)
    route: str = ""                # how it became a TensorFlow graph, for the card
    notes: dict[str, Any] = field(default_factory=dict)
    add_softmax: bool = False
    # the declared normalization on 0..255 pixels; graph sources get it as their first op (see tflite_converter)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        return ((pixels.astype(np.float32) - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32))

    def raw_outputs(self, pixels: np.ndarray) -> np.ndarray:
        return np.asarray(self.run_original(self.normalize(pixels)), np.float32).reshape(len(pixels), -1)

    def reference(self, pixels: np.ndarray) -> np.ndarray:
        """The original model in its own framework on resized 0..255 pixels, normalized as declared
        (softmaxed when the model ends in logits)."""
        out = self.raw_outputs(pixels)
        return softmax(out) if self.add_softmax else out

    def input_range(self) -> tuple[float, float]:
        """What can reach the converted graph's input: 0..255 pixels (it normalizes inside)."""
        return 0.0, 255.0

    def tflite_converter(self) -> Any:
        import tensorflow as tf

        if self.tf_function is None:
            raise BadInput(f"{self.origin}: a {self.kind} model is already a .tflite; only int8 (and float32) can be "
                           "made from it (use --quant int8)")
        h, w, c = self.height, self.width, self.channels
        fn, add = self.tf_function, self.add_softmax
        mean, std = self.mean, self.std

        # Like edgevision's own models, the result takes 0..255 pixels and normalizes inside: calibration,
        # the quantization debugger and int16x8 then feed it exactly what they feed a trained model.
        @tf.function(input_signature=[tf.TensorSpec((1, h, w, c), tf.float32, name="image")])
        def serve(image: Any) -> Any:
            y = tf.reshape(fn(normalize_in_graph(image, mean, std, c)), (1, self.classes))
            return tf.nn.softmax(y) if add else y

        # The converter freezes the variables it can reach from a trackable object; Keras 3 keeps its
        # tf.Variables behind keras.Variable, so hand them over explicitly.
        holder = tf.Module()
        holder.keep = self.keepalive
        holder.variables_ = [getattr(v, "value", v) for v in getattr(self.keepalive, "weights", [])]
        return tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], holder)


def normalize_in_graph(image: Any, mean: tuple[float, ...], std: tuple[float, ...], channels: int) -> Any:
    """``(image - mean) / std`` as one 1x1 depthwise convolution with a bias (nothing for mean 0, std 1).

    Written as a subtraction and a division, the normalization becomes int8 SUB and MUL ops whose constant
    operands share one per-tensor scale: per-channel means (ImageNet's 123.7, 116.3, 103.5) then round to
    the nearest 0.485 (a channel-wide colour shift of up to a quarter of a pixel level) and every pixel is
    re-rounded twice, at steps that do not line up. A depthwise convolution's weights are quantized per
    channel (each 1/std exact) and its bias in int32, so the normalized image is rounded once, as when the
    device normalizes it itself. The float graph computes the same values.
    """
    import tensorflow as tf

    m = np.broadcast_to(np.asarray(mean, np.float64), (channels,))
    s = np.broadcast_to(np.asarray(std, np.float64), (channels,))
    if np.all(m == 0) and np.all(s == 1):
        return image
    kernel = tf.constant((1.0 / s).reshape(1, 1, channels, 1), tf.float32)
    bias = tf.constant(-m / s, tf.float32)
    return tf.nn.bias_add(tf.nn.depthwise_conv2d(image, kernel, [1, 1, 1, 1], "VALID"), bias)


def decide_outputs(model: BroughtModel, sample: np.ndarray, declared: str) -> str:
    """``probabilities`` or ``logits`` (then a softmax is added); ``auto`` looks at real outputs."""
    if declared not in OUTPUT_KINDS:
        raise BadInput(f"--outputs {declared}: choose one of {', '.join(OUTPUT_KINDS)}")
    raw = model.raw_outputs(sample)
    probs = looks_like_probabilities(raw)
    if declared == "probabilities" and not probs:
        raise BadInput(f"{model.origin}: --outputs probabilities, but its outputs are not probabilities (rows sum to "
                       f"{raw.sum(axis=-1)[:3].round(3).tolist()}); use --outputs logits")
    kind = declared if declared != "auto" else ("probabilities" if probs else "logits")
    model.add_softmax = kind == "logits"
    return kind
