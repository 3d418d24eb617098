"""Graph fixes applied before onnx2tf, checked with onnxruntime: the fixed graph computes the same outputs."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install -e '.[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[onnx]')")

from onnx import TensorProto, helper  # noqa: E402

from edgevision.convert.frontends.onnx_fixes import (  # noqa: E402
    PAD_FLOOR,
    fix_graph,
    full_rank_constants,
    gelu_for_tflite,
    pad_max_pools,
    sums_to_adds,
    whole_input_average_pools,
)


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


def test_unpadded_max_pool_is_left_alone_and_old_opsets_pad_by_attribute() -> None:
    """Before opset 11 Pad takes its pads as an attribute (Caffe2's and MXNet's exports, opset 7 to 9)."""
    model = _stem(True)
    next(a for a in model.graph.node[1].attribute if a.name == "pads").ints[:] = [0, 0, 0, 0]
    assert pad_max_pools(model) == 0
    old = _stem(False)
    old.opset_import[0].version = 9
    x = np.random.default_rng(1).normal(size=(1, 2, 8, 8)).astype(np.float32) - 0.5
    before = _run(old, x)
    assert pad_max_pools(old) == 1
    onnx.checker.check_model(old)
    pad = next(n for n in old.graph.node if n.op_type == "Pad")
    assert len(pad.input) == 1 and {a.name for a in pad.attribute} >= {"pads", "value"}
    np.testing.assert_array_equal(_run(old, x), before)


def _graph(nodes: list, inputs: list, output: tuple[str, list[int]], opset: int, inits: list | None = None,
           ir: int | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info(output[0], TensorProto.FLOAT, output[1])], inits or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if ir is not None:
        model.ir_version = ir
    return model


def _scalar(name: str, value: float, as_node: bool) -> tuple[list, list]:
    """A scalar as an initializer (what onnxslim leaves) or a Constant node (what the exporters write)."""
    array = np.asarray(value, np.float32)
    if as_node:
        return [helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(array, name))], []
    return [], [onnx.numpy_helper.from_array(array, name)]


def _exact_gelu(scale_op: str, as_nodes: bool, half: float = 0.5, dynamo: bool = False) -> onnx.ModelProto:
    """x -> MatMul -> GELU as torch's exporters write nn.GELU(): TorchScript (x * (1 + erf(x / sqrt 2))) * 0.5,
    dynamo x * (0.5 * (1 + erf(x / sqrt 2)))."""
    w = onnx.numpy_helper.from_array(np.random.default_rng(2).normal(size=(6, 6)).astype(np.float32), "w")
    consts, inits = [], [w]
    for name, value in (("k", np.sqrt(2.0) if scale_op == "Div" else 1 / np.sqrt(2.0)), ("one", 1.0), ("half", half)):
        n, i = _scalar(name, float(value), as_nodes)
        consts += n
        inits += i
    nodes = [*consts, helper.make_node("MatMul", ["input", "w"], ["x"], name="fc"),
             helper.make_node(scale_op, ["x", "k"], ["scaled"], name="scale"),
             helper.make_node("Erf", ["scaled"], ["erf"], name="erf"),
             helper.make_node("Add", ["erf", "one"], ["plus"], name="plus"),
             helper.make_node("Mul", ["x", "plus"], ["times_x"], name="times_x"),
             helper.make_node("Mul", ["times_x", "half"], ["output"], name="halve")]
    if dynamo:
        nodes[-2:] = [helper.make_node("Mul", ["half", "plus"], ["times_x"], name="times_x"),
                      helper.make_node("Mul", ["x", "times_x"], ["output"], name="halve")]
    return _graph(nodes, [("input", [1, 4, 6])], ("output", [1, 4, 6]), 17, inits)


@pytest.mark.parametrize(("scale_op", "as_nodes", "dynamo"), [("Div", False, False), ("Mul", True, False),
                                                             ("Div", False, True)])
def test_exact_gelu_is_reordered_to_what_tflite_fuses_with_the_same_result(scale_op: str, as_nodes: bool,
                                                                           dynamo: bool) -> None:
    """onnx2tf keeps the exporters' orders, which the TFLite converter does not fuse and then cannot convert
    (tf.Erf has no builtin); (x * 0.5) * (1 + erf) it fuses into its GELU builtin."""
    x = np.random.default_rng(0).normal(size=(1, 4, 6)).astype(np.float32) * 3
    model = _exact_gelu(scale_op, as_nodes, dynamo=dynamo)
    before = _run(model, x)
    assert gelu_for_tflite(model) == 1
    onnx.checker.check_model(model)
    halves = [n for n in model.graph.node if n.op_type == "Mul" and "x" in n.input and n.name != "scale"]
    assert [n.name for n in model.graph.node if n.name == "halve"] == []
    assert len(halves) == 1 and halves[0].output[0] in next(n for n in model.graph.node if n.name == "times_x").input
    np.testing.assert_allclose(_run(model, x), before, rtol=1e-6, atol=1e-6)


def test_what_only_looks_like_gelu_is_left_alone() -> None:
    model = _exact_gelu("Div", False, half=0.6)
    assert gelu_for_tflite(model) == 0
    model = _exact_gelu("Mul", False)  # x / sqrt(2) written as a Mul by sqrt(2) is not GELU
    next(i for i in model.graph.initializer if i.name == "k").CopyFrom(
        onnx.numpy_helper.from_array(np.asarray(np.sqrt(2.0), np.float32), "k"))
    assert gelu_for_tflite(model) == 0


def test_caffe2_sum_becomes_adds_with_the_same_result() -> None:
    """onnx2tf makes Sum an AddN, which has no int8 kernel (the int8 model falls back to float around it)."""
    nodes = [helper.make_node("Relu", ["input"], ["a"]), helper.make_node("Neg", ["input"], ["b"]),
             helper.make_node("Sum", ["a", "b", "input", "bias"], ["output"], name="res_sum")]
    bias = onnx.numpy_helper.from_array(np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1), "bias")
    model = _graph(nodes, [("input", [1, 3, 4, 4])], ("output", [1, 3, 4, 4]), 9, [bias])
    x = np.random.default_rng(3).normal(size=(1, 3, 4, 4)).astype(np.float32)
    before = _run(model, x)
    assert sums_to_adds(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["Relu", "Neg", "Add", "Add", "Add"]
    np.testing.assert_allclose(_run(model, x), before, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ir", [3, 8])
def test_googlenet_tail_average_pool_becomes_global_with_the_same_result(ir: int) -> None:
    """Caffe2's GoogLeNet ends in a 7x7 average over a 6x6 map, padded at the end and the padding not counted:
    onnx2tf divides by 49 instead of 36. A 3x3 average with padding 1 (many windows) is left to onnx2tf."""
    nodes = [helper.make_node("AveragePool", ["input"], ["tail"], name="pool5", kernel_shape=[7, 7], strides=[1, 1],
                              pads=[0, 0, 1, 1]),
             helper.make_node("AveragePool", ["input"], ["mid"], name="pool3", kernel_shape=[3, 3], strides=[1, 1],
                              pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["mid"], ["mid_mean"], axes=[2, 3], keepdims=1),
             helper.make_node("Add", ["tail", "mid_mean"], ["output"])]
    model = _graph(nodes, [("input", [1, 4, 6, 6])], ("output", [1, 4, 1, 1]), 9, ir=ir)
    x = np.random.default_rng(4).normal(size=(1, 4, 6, 6)).astype(np.float32)
    before = _run(model, x)
    assert whole_input_average_pools(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node][:2] == ["GlobalAveragePool", "AveragePool"]
    np.testing.assert_allclose(_run(model, x), before, rtol=1e-6, atol=1e-6)


def test_fix_graph_reports_what_it_changed() -> None:
    model = _exact_gelu("Div", True)
    assert fix_graph(model) == {"gelu": 1}
    assert fix_graph(model) == {}  # the fixed graph has nothing left to fix


@pytest.mark.parametrize("ir", [3, 8])
def test_per_channel_constant_gets_the_rank_of_the_map_with_the_same_result(ir: int) -> None:
    """Caffe2's DenseNet scales each channel by a (C, 1, 1) constant; onnx2tf transposes the NCHW map but not the
    lower-rank constant (Dimensions must be equal, but are 56 and 64). As (1, C, 1, 1) it goes with the map."""
    scale = onnx.numpy_helper.from_array(np.arange(1, 4, dtype=np.float32).reshape(3, 1, 1), "scale")
    shift = onnx.numpy_helper.from_array(np.asarray([0.5], np.float32), "shift")
    nodes = [helper.make_node("Mul", ["input", "scale"], ["scaled"], name="bn_scale"),
             helper.make_node("Add", ["scaled", "shift"], ["output"], name="bn_shift")]
    model = _graph(nodes, [("input", [1, 3, 4, 4])], ("output", [1, 3, 4, 4]), 9, [scale, shift], ir=ir)
    if ir < 4:
        model.graph.input.extend([helper.make_tensor_value_info("scale", TensorProto.FLOAT, [3, 1, 1]),
                                  helper.make_tensor_value_info("shift", TensorProto.FLOAT, [1])])
    x = np.random.default_rng(5).normal(size=(1, 3, 4, 4)).astype(np.float32)
    before = _run(model, x)
    assert full_rank_constants(model) == 1  # the scalar-like shift is left as it is
    onnx.checker.check_model(model)
    mul = next(n for n in model.graph.node if n.name == "bn_scale")
    assert onnx.numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == mul.input[1])).shape == (
        1, 3, 1, 1)
    np.testing.assert_array_equal(_run(model, x), before)
