"""The int8 model's input side: a normalization inside the graph rounds once, and the input takes every pixel.

A brought graph gets its declared normalization as its first op. The model here is that op alone
(its output is the normalized image, flattened), so what the int8 model computes for it can be read
off exactly, through the device's own preprocessing, and compared with ``(pixel - mean) / std``.
ImageNet's per-channel mean and small std are the case where int8 SUB/MUL lost a quarter of a pixel
level per channel and rounded every pixel three times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgevision.convert.frontends.declare import IMAGENET
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.preprocess import InputQuant, Preprocessor

pytestmark = pytest.mark.tf

SIZE = 4
MEAN, STD = (np.asarray(v, np.float32) for v in IMAGENET)


def _normalizer(mean: tuple[float, ...], std: tuple[float, ...]):  # type: ignore[no-untyped-def]
    """A brought graph that is nothing but its declared normalization: outputs the normalized image."""
    import tensorflow as tf

    from edgevision.convert.frontends.frontend_base import BroughtModel

    model = BroughtModel(kind="savedmodel", origin="normalizer", height=SIZE, width=SIZE, channels=3,
                         classes=SIZE * SIZE * 3, run_original=lambda x: x.reshape(len(x), -1),
                         tf_function=lambda x: tf.reshape(x, (1, -1)))
    model.mean, model.std = mean, std
    return model


def _int8(model, images: np.ndarray, io: str = "uint8") -> bytes:  # type: ignore[no-untyped-def]
    from edgevision.convert.quantize import calibrate, convert_float, quantize_int8

    return quantize_int8(calibrate(model, images, None, convert_float(model, "float32")), io)


def _device_outputs(data: bytes, images: np.ndarray) -> tuple[np.ndarray, float]:
    """Dequantized outputs through the device's Classifier (its preprocessing quantizes the input), and the
    output's quantization step."""
    from edgevision.convert.export import model_card
    from edgevision.convert.validate import in_memory_model
    from edgevision.runtime.classifier import Classifier

    labels = [f"v{i}" for i in range(SIZE * SIZE * 3)]
    spec = PreprocessSpec(width=SIZE, height=SIZE)  # the graph normalizes: the device feeds pixels
    clf = Classifier(in_memory_model(data, model_card("t", spec, labels, "int8"), labels, "int8"))
    out = np.stack([clf.infer(clf.preprocessor.from_resized(img)) for img in images])
    return out.reshape(images.shape), float(clf.interpreter.get_output_details()[0]["quantization"][0])


def test_per_channel_normalization_inside_the_graph_is_rounded_once() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, SIZE, SIZE, 3), dtype=np.uint8)
    out, step = _device_outputs(_int8(_normalizer(tuple(IMAGENET[0]), tuple(IMAGENET[1])), images), images)
    exact = (images.astype(np.float64) - MEAN) / STD
    err = (out - exact) / step  # in output quantization steps
    assert np.abs(err).max() <= 0.51, f"worst error {np.abs(err).max():.2f} steps: rounded more than once"
    bias = np.abs(err.reshape(-1, 3).mean(axis=0))
    assert bias.max() < 0.06, f"per-channel bias {bias.round(3)} steps: the means were not kept exactly"


@pytest.mark.parametrize("io", ["uint8", "int8"])
def test_int8_input_takes_every_pixel_value_as_it_is(io: str) -> None:
    """Calibration photos that span 30..180 must not narrow the input: a brighter frame is not clipped."""
    from edgevision.runtime.interpreter import make_interpreter

    rng = np.random.default_rng(1)
    dim = rng.integers(30, 181, (16, SIZE, SIZE, 3), dtype=np.uint8)
    data = _int8(_normalizer((127.5,), (127.5,)), dim, io)
    interp, _ = make_interpreter(data, None, None, "t")
    scale, zero = interp.get_input_details()[0]["quantization"]
    assert (scale, zero) == (1.0, 0 if io == "uint8" else -128)
    pre = Preprocessor(PreprocessSpec(width=SIZE, height=SIZE), InputQuant(io, scale, zero))
    assert pre.mode == ("raw" if io == "uint8" else "shift")  # no arithmetic per pixel on the device
    bright = np.full((SIZE, SIZE, 3), 250, np.uint8)
    assert (pre.from_resized(bright).astype(np.float32) - zero) * scale == pytest.approx(np.full((1, SIZE, SIZE, 3),
                                                                                                   250.0))


def test_float_tflite_input_range_covers_every_normalized_pixel(tmp_path: Path) -> None:
    """A .tflite keeps its float input and the device normalizes: its int8 input spans what 0..255 become."""
    import tensorflow as tf

    from edgevision.convert.frontends.tflite_src import load_tflite
    from edgevision.convert.quantize import calibrate, quantize_int8
    from edgevision.runtime.interpreter import make_interpreter

    @tf.function(input_signature=[tf.TensorSpec((1, SIZE, SIZE, 3), tf.float32)])
    def fn(x):  # type: ignore[no-untyped-def]
        return tf.nn.softmax(tf.reshape(tf.reduce_mean(x, axis=(1, 2)), (1, 3)))

    path = tmp_path / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert())
    model = load_tflite(path)
    model.mean, model.std = tuple(IMAGENET[0]), tuple(IMAGENET[1])
    dim = np.random.default_rng(2).integers(60, 200, (16, SIZE, SIZE, 3), dtype=np.uint8)
    interp, _ = make_interpreter(quantize_int8(calibrate(model, dim), "uint8"), None, None, "t")
    scale, zero = interp.get_input_details()[0]["quantization"]
    low, high = (0 - zero) * scale, (255 - zero) * scale
    ends = (np.array([0.0, 255.0])[:, None] - MEAN) / STD
    assert low <= ends.min() + scale and high >= ends.max() - scale


def test_a_normalization_for_other_channels_is_one_line() -> None:
    """ImageNet's three means on a grayscale model would broadcast the image to three channels: refused."""
    from edgevision.convert.frontends.declare import Declared, decide_spec
    from edgevision.errors import BadInput

    with pytest.raises(BadInput, match=r"mean has 3 values .* takes 1 channel;"):
        decide_spec("gray.onnx", (28, 28), 1, None, Declared(preset="torchvision"))
    spec, _ = decide_spec("gray.onnx", (28, 28), 1, None, Declared(norm="symmetric"))
    assert (spec.mean, spec.std) == ((127.5,), (127.5,))
