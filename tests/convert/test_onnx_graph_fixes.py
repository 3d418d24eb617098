"""Graph fixes applied before onnx2tf, checked with onnxruntime: the fixed graph computes the same outputs."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install -e '.[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[onnx]')")

from onnx import TensorProto, helper  # noqa: E402

from edgevision.convert.frontends.onnx_src import PAD_FLOOR, pad_max_pools  # noqa: E402


def _stem(relu: bool) -> onnx.ModelProto:
    """ResNet's stem pooling: MaxPool 3x3, stride 2, padding 1 (after a ReLU, or straight on signed input)."""
    nodes = [helper.make_node("Relu", ["input"], ["act"], name="relu")] if relu else []
    nodes += [helper.make_node("MaxPool", ["act" if relu else "input"], ["pooled"], name="pool", kernel_shape=[3, 3],
                               strides=[2, 2], pads=[1, 1, 1, 1]),
              helper.make_node("Flatten", ["pooled"], ["output"], name="flatten")]
    graph = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 32])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


@pytest.mark.parametrize("relu", [True, False])
def test_padded_max_pool_gets_an_explicit_pad_with_the_same_result(relu: bool) -> None:
    """onnx2tf pads such a MaxPool with -FLT_MAX, which int8 turns into a PADV2 the interpreter aborts on."""
    x = np.random.default_rng(0).normal(size=(1, 2, 8, 8)).astype(np.float32) - 0.5  # mostly negative at the edges
    model = _stem(relu)
    before = _run(model, x)
    assert pad_max_pools(model) == 1
    onnx.checker.check_model(model)
    pad = next(n for n in model.graph.node if n.op_type == "Pad")
    pool = next(n for n in model.graph.node if n.op_type == "MaxPool")
    assert list(next(a for a in pool.attribute if a.name == "pads").ints) == [0, 0, 0, 0]
    value = next(i for i in model.graph.initializer if i.name == pad.input[2])
    assert float(onnx.numpy_helper.to_array(value)) == (0.0 if relu else PAD_FLOOR)
    np.testing.assert_array_equal(_run(model, x), before)


def test_unpadded_max_pool_and_old_opsets_are_left_alone() -> None:
    model = _stem(True)
    next(a for a in model.graph.node[1].attribute if a.name == "pads").ints[:] = [0, 0, 0, 0]
    assert pad_max_pools(model) == 0
    old = _stem(True)
    old.opset_import[0].version = 10
    assert pad_max_pools(old) == 0
