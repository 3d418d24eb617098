"""[TF] Keras model -> TFLite bytes: float32, float16, dynamic range, int8 (full or selective), 16x8.

int8 is done in two steps so a repair can re-quantize many times without re-calibrating:
``calibrate`` runs the representative images once and returns a float model annotated
with activation ranges; ``quantize_int8`` turns that into an integer model, optionally
keeping named layers in float (selective quantization). Both steps are what
``TFLiteConverter.convert()`` does internally (the same MLIR quantizer that
``tf.lite.experimental.QuantizationDebugger`` drives), so a plain ``quantize_int8`` equals
the converter's full-integer output.

Models are converted with a fixed batch of 1: static shapes everywhere (the Edge TPU
compiler requires them) and no SHAPE/STRIDED_SLICE/PACK ops computing the batch at run time.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from edgevision.convert.converter_errors import reason_of
from edgevision.errors import BadInput

QUANT_MODES = ("int8", "float16", "dynamic", "float32")
IO_TYPES = ("uint8", "int8")
PIXELS = (0.0, 255.0)  # what reaches a model that normalizes inside: the camera's pixels


def check_static(model: Any, origin: str = "model") -> tuple[int, int, int]:
    """The (height, width, channels) of a single-image input; BadInput for anything dynamic."""
    if len(model.inputs) != 1:
        raise BadInput(f"{origin}: model has {len(model.inputs)} inputs; an image classifier needs exactly one")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise BadInput(f"{origin}: input shape {shape} is dynamic; rebuild the model with a fixed height, width "
                       "and channels (e.g. keras.Input((224, 224, 3)))")
    if len(model.outputs) != 1 or len(tuple(model.outputs[0].shape)) != 2 or model.outputs[0].shape[-1] is None:
        raise BadInput(f"{origin}: output shape {tuple(model.outputs[0].shape)} is not (batch, classes)")
    return int(shape[1]), int(shape[2]), int(shape[3])


def _fixed_batch(model: Any) -> Any:
    """The same model behind a batch-1 input, so every tensor shape is static."""
    import keras

    h, w, c = check_static(model)
    inp = keras.Input(batch_shape=(1, h, w, c), name=model.inputs[0].name.split(":")[0] or "image")
    return keras.Model(inp, model(inp), name=model.name)


def _converter(model: Any) -> Any:
    import tensorflow as tf

    if not hasattr(model, "tflite_converter"):
        return tf.lite.TFLiteConverter.from_keras_model(_fixed_batch(model))
    try:  # a model the user brought (convert/frontends) builds its own, tracing the graph it was given
        return model.tflite_converter()
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - tracing a brought graph fails in Keras' and TensorFlow's own types
        raise BadInput(f"TFLite conversion (tracing the model) failed: {_reason(exc)}") from None


def _run(conv: Any, what: str) -> bytes:
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # Keras prints "Saved artifact"
            warnings.simplefilter("ignore")
            return bytes(conv.convert())
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - converter errors are long MLIR dumps
        raise BadInput(f"TFLite conversion ({what}) failed: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """The first line of a converter's error (they are long MLIR or Keras dumps), and the ops it could not
    convert."""
    first = reason_of(exc, 300)
    ops = sorted(set(re.findall(r"\b(tf\.[A-Z]\w*)\(", str(exc))))
    named = f" (TensorFlow op(s) with no TFLite builtin: {', '.join(ops[:5])})" if ops else ""
    first = re.sub(r"(?<=[.])/[^ ]*.*$", "", first)  # MLIR glues a file path to its first sentence
    return f"{first}{named}"


def _representative(images: np.ndarray, on_step: Callable[[], None] | None) -> Callable[[], Iterator[list[Any]]]:
    if images is None or len(images) == 0:
        raise BadInput("quantization needs a non-empty calibration set")
    data = images.astype(np.float32)

    def gen() -> Iterator[list[Any]]:
        for i in range(len(data)):
            yield [data[i:i + 1]]
            if on_step:
                on_step()

    return gen


def convert_float(model: Any, mode: str) -> bytes:
    """float32 (the reference), float16 weights, or dynamic-range int8 weights."""
    import tensorflow as tf

    if mode not in ("float32", "float16", "dynamic"):
        raise BadInput(f"unknown float mode {mode!r}")
    if mode == "float32" and getattr(model, "float_tflite", None):  # a float .tflite the user brought
        return bytes(model.float_tflite)
    if mode == "float32" and getattr(model, "float32_bytes", None):  # converted once already (the float check)
        return bytes(model.float32_bytes)
    conv = _converter(model)
    if mode in ("float16", "dynamic"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    return _run(conv, mode)


def calibrate(model: Any, images: np.ndarray, on_step: Callable[[], None] | None = None,
              float_bytes: bytes | None = None) -> bytes:
    """Run the calibration images once: a float TFLite model annotated with activation ranges.

    With ``float_bytes`` (the float32 TFLite of the same model, already converted), TFLite's calibrator
    runs on it directly: the step ``TFLiteConverter.convert()`` takes after its own float conversion, without
    converting the graph a second time.
    """
    import tensorflow as tf

    low, high = model.input_range() if hasattr(model, "input_range") else PIXELS
    if hasattr(model, "calibrate"):  # a float .tflite the user brought: no graph to convert, calibrate the file
        return with_input_range(bytes(model.calibrate(images, on_step)), low, high)
    if float_bytes is not None:
        return with_input_range(calibrate_tflite(float_bytes, images.astype(np.float32), on_step), low, high)

    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(images, on_step)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv._experimental_calibrate_only = True  # the documented first half of QuantizationDebugger's flow
    return with_input_range(_run(conv, "int8 calibration"), low, high)


def with_input_range(calibrated: bytes, low: float, high: float) -> bytes:
    """The calibrated model with its input's range set to what the device can feed, not what the photos spanned.

    The calibrator records the input's range like any activation's: on photos whose brightest pixel is 243,
    the int8 input gets a step of 0.953, every pixel is re-rounded onto a grid that misses the integers, and
    a brighter frame on the device clips at 243. The input's real range is known (0..255 pixels, normalized
    as the spec says when the device normalizes); for pixels it gives scale 1 and zero point 0 (-128 for
    int8): the pixels themselves, exactly, with no arithmetic on the device.
    """
    from edgevision.model.tflite_tables import schema_module

    schema = schema_module()
    if schema is None:
        from tensorflow.lite.python import schema_py_generated as schema
    data = bytearray(calibrated)  # the recorded min/max are edited in place: same sizes, same layout
    graph = schema.Model.GetRootAs(data, 0).Subgraphs(0)
    if graph is None or graph.InputsLength() != 1:
        return calibrated
    quant = graph.Tensors(graph.Inputs(0)).Quantization()
    if quant is None or quant.MinLength() != 1 or quant.MaxLength() != 1:
        return calibrated  # nothing recorded (or per-axis): leave it to the quantizer
    quant.MinAsNumpy()[:] = low
    quant.MaxAsNumpy()[:] = high
    return bytes(data)


def calibrate_tflite(float_bytes: bytes, inputs: np.ndarray, on_step: Callable[[], None] | None = None,
                     origin: str = "model") -> bytes:
    """TFLite's calibrator on a float .tflite: records every tensor's range over ``inputs`` (model-ready floats)."""
    from tensorflow.lite.python.optimize import calibrator

    gen = _representative(inputs, on_step)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bytes(calibrator.Calibrator(float_bytes).calibrate(gen))
    except Exception as exc:  # noqa: BLE001 - calibrator errors are C++ messages
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
        raise BadInput(f"{origin}: TFLite calibration failed ({first})") from None


def quantize_int8(calibrated: bytes, io_type: str = "uint8", float_nodes: Sequence[str] = ()) -> bytes:
    """Integer model from a calibrated one; ops whose output tensor is in ``float_nodes`` stay float."""
    import tensorflow as tf
    from tensorflow.lite.python import convert as tf_convert

    if io_type not in IO_TYPES:
        raise BadInput(f"unknown int8 I/O type {io_type!r}; use uint8 or int8")
    dtype = tf.uint8 if io_type == "uint8" else tf.int8
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Statistics for quantized inputs were expected": we pass none on purpose
            return bytes(tf_convert.mlir_quantize(calibrated, input_data_type=dtype, output_data_type=dtype,
                                                  denylisted_nodes=list(float_nodes) or None))
    except Exception as exc:  # noqa: BLE001 - MLIR errors
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
        raise BadInput(f"int8 quantization failed: {first}") from None


def debug_model(calibrated: bytes) -> bytes:
    """The calibrated model quantized with NumericVerify ops, for the quantization debugger."""
    from tensorflow.lite.python import convert as tf_convert

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(tf_convert.mlir_quantize(calibrated, enable_numeric_verify=True))


def convert_int16x8(model: Any, images: np.ndarray, on_step: Callable[[], None] | None = None) -> bytes:
    """16-bit activations, 8-bit weights (float32 I/O): 256x finer activation steps than int8."""
    import tensorflow as tf

    conv = _converter(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(images, on_step)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return _run(conv, "int16x8")


def to_tflite(model: Any, mode: str, calibration: np.ndarray | None = None, io_type: str = "uint8") -> bytes:
    """One-call conversion; ``int8`` is full-integer (integer weights and activations, ``io_type`` I/O)."""
    if mode not in QUANT_MODES:
        raise BadInput(f"unknown quantization {mode!r}; use one of {', '.join(QUANT_MODES)}")
    if mode != "int8":
        return convert_float(model, mode)
    if io_type not in IO_TYPES:
        raise BadInput(f"unknown int8 I/O type {io_type!r}; use uint8 or int8")
    if calibration is None or len(calibration) == 0:
        raise BadInput("int8 quantization needs a non-empty calibration set")
    return quantize_int8(calibrate(model, calibration), io_type)
