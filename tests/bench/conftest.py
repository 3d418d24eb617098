"""Tiny models with known shapes for the benchmark tests, converted once per session with TensorFlow.

Besides a float32 and an int8 model, two broken variants are derived by editing the
FlatBuffer (an unknown custom op, and the Edge TPU's custom op) to exercise the errors a
user meets with models that cannot be allocated here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import HAS_TF, need

# conv 3x3 8ch on 32x32x3 (same), depthwise 3x3 (valid), dense 8 -> 5
TINY_MACS = 32 * 32 * 8 * 3 * 3 * 3 + 30 * 30 * 8 * 3 * 3 + 8 * 5


@dataclass(frozen=True)
class BenchModels:
    float32: Path
    int8: Path
    unknown_op: Path
    edgetpu: Path


def _tiny_keras():  # type: ignore[no-untyped-def]
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([tf.keras.Input((32, 32, 3)), tf.keras.layers.Conv2D(8, 3, padding="same"),
                                tf.keras.layers.DepthwiseConv2D(3), tf.keras.layers.GlobalAveragePooling2D(),
                                tf.keras.layers.Dense(5)])


def convert(model, int8: bool) -> bytes:  # type: ignore[no-untyped-def]
    import numpy as np
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        shape = (1, *model.input_shape[1:])

        def rep():  # type: ignore[no-untyped-def]
            rng = np.random.default_rng(0)
            for _ in range(8):
                yield [rng.random(shape, dtype=np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8
        conv.inference_output_type = tf.uint8
    return conv.convert()


def with_custom_op(data: bytes, name: str) -> bytes:
    """The model with its last operator turned into the custom op ``name``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = name
    model.operatorCodes.append(code)
    op = model.subgraphs[0].operators[-1]
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.builtinOptionsType, op.builtinOptions = 0, None
    b = flatbuffers.Builder(len(data) + 1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture(scope="session")
def bench_models(tmp_path_factory: pytest.TempPathFactory) -> BenchModels:
    need(HAS_TF, "TensorFlow is not installed (pip install -e '.[train]')")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = tmp_path_factory.mktemp("bench_models")
    keras = _tiny_keras()
    f32, i8 = convert(keras, int8=False), convert(keras, int8=True)
    paths = BenchModels(out / "tiny_float32.tflite", out / "tiny_int8.tflite", out / "tiny_unknown_op.tflite",
                        out / "tiny_edgetpu.tflite")
    paths.float32.write_bytes(f32)
    paths.int8.write_bytes(i8)
    paths.unknown_op.write_bytes(with_custom_op(i8, "NotARealOp"))
    paths.edgetpu.write_bytes(with_custom_op(i8, "edgetpu-custom-op"))
    return paths
