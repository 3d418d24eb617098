"""Rewrites of an ONNX graph before onnx2tf: the same function, in a form that converts and quantizes cleanly.

Each fix is checked with onnxruntime in the tests (the fixed graph computes the same outputs) and
returns how many places it changed, so the route can say what it did.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NON_NEGATIVE = ("Relu", "Sigmoid", "Softplus", "Abs", "Exp")
PAD_FLOOR = -65504.0  # the most negative float16: finite, so int8 quantization saturates it instead of overflowing


def _opset(model: Any) -> int:
    """The model's version of the default (ai.onnx) op set; 0 when it names none."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def shapes_of(model: Any) -> dict[str, list[int]] | None:
    """Each tensor's inferred dimensions (0 where unknown), for tensors whose shape is known; None when shape
    inference fails."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - onnx raises its own types; without shapes the fixes that need them skip
        return None
    return {v.name: [d.dim_value if d.HasField("dim_value") else 0 for d in v.type.tensor_type.shape.dim]
            for v in (*inferred.graph.value_info, *inferred.graph.input) if v.type.tensor_type.HasField("shape")}


def pad_max_pools(model: Any) -> int:
    """Move each padded MaxPool's padding into an explicit Pad node before it; returns how many were moved.

    onnx2tf pads such a MaxPool (ResNet's stem: 3x3, stride 2, padding 1) with -FLT_MAX, and the int8
    quantizer turns that constant into a PADV2 the interpreter aborts on. After a ReLU (the usual case) the
    input is never negative, so padding with 0 is the same maximum and converts to a plain PAD; otherwise
    the padding is the most negative float16, which int8 saturates to its lowest value, as -inf would.
    """
    from onnx import helper, numpy_helper

    opset = _opset(model)
    if opset < 2:
        return 0
    graph = model.graph
    producers = {out: n for n in graph.node for out in n.output}
    moved = 0
    for index in range(len(graph.node) - 1, -1, -1):
        node = graph.node[index]
        if node.op_type != "MaxPool":
            continue
        attrs = {a.name: a for a in node.attribute}
        pads = list(attrs["pads"].ints) if "pads" in attrs else []
        if not any(pads) or ("auto_pad" in attrs and attrs["auto_pad"].s not in (b"", b"NOTSET")):
            continue
        src = producers.get(node.input[0])
        clip_min = None
        if src is not None and src.op_type == "Clip" and len(src.input) > 1 and src.input[1]:
            init = {i.name: i for i in graph.initializer}.get(src.input[1])
            clip_min = float(numpy_helper.to_array(init)) if init is not None else None
        non_negative = src is not None and (src.op_type in NON_NEGATIVE or (clip_min is not None and clip_min >= 0))
        name = f"{node.name or node.output[0]}_pad"
        half = len(pads) // 2
        full = [0, 0, *pads[:half], 0, 0, *pads[half:]]  # NCHW begins then ends, batch and channels unpadded
        value = 0.0 if non_negative else PAD_FLOOR
        if opset >= 11:
            graph.initializer.extend([numpy_helper.from_array(np.asarray(full, np.int64), f"{name}_pads"),
                                      numpy_helper.from_array(np.asarray(value, np.float32), f"{name}_value")])
            pad = helper.make_node("Pad", [node.input[0], f"{name}_pads", f"{name}_value"], [f"{name}_out"],
                                   name=name, mode="constant")
        else:  # opsets 2 to 10 (Caffe2's and MXNet's exports): pads and value are attributes
            pad = helper.make_node("Pad", [node.input[0]], [f"{name}_out"], name=name, mode="constant", pads=full,
                                   value=value)
        node.input[0] = f"{name}_out"
        for a in node.attribute:
            if a.name == "pads":
                del a.ints[:]
                a.ints.extend([0] * len(pads))
        graph.node.insert(index, pad)
        moved += 1
    return moved


def _constant(graph: Any, name: str) -> np.ndarray | None:
    """The value of ``name`` when it is an initializer or a Constant node's output, else None."""
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return np.asarray(numpy_helper.to_array(init))
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            value = next((a for a in node.attribute if a.name == "value"), None)
            return np.asarray(numpy_helper.to_array(value.t)) if value is not None else None
    return None


def _scalar(graph: Any, name: str, want: float, tol: float = 1e-6) -> bool:
    value = _constant(graph, name)
    return value is not None and value.size == 1 and abs(float(value.reshape(())) - want) <= tol


def _other(node: Any, name: str) -> str | None:
    """The input of a two-input node that is not ``name`` (None when neither or both are)."""
    ins = list(node.input)
    if len(ins) != 2 or ins.count(name) != 1:
        return None
    return ins[1] if ins[0] == name else ins[0]


def gelu_for_tflite(model: Any) -> int:
    """Reorder each exact GELU as ``(x * 0.5) * (1 + erf(x / sqrt 2))``; returns how many.

    Opsets below 20 have no Gelu op: torch's TorchScript exporter writes ``nn.GELU`` as
    ``(x * (1 + erf(x / sqrt 2))) * 0.5``, its dynamo exporter as ``x * (0.5 * (1 + erf(x / sqrt 2)))``.
    onnx2tf copies either order into TensorFlow, where the TFLite converter does not recognise it as GELU and
    stops at ``tf.Erf`` (no TFLite builtin); with the half applied to ``x`` first it fuses the five ops into
    its GELU builtin, which computes the exact (erf) form. Same function, one rounding moved.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only(name: str, op: str) -> Any:
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op else None

    fixed = 0
    for erf in [n for n in graph.node if n.op_type == "Erf"]:
        scale = next((n for n in graph.node if erf.input[0] in n.output and n.op_type in ("Div", "Mul")), None)
        if scale is None or len(scale.input) != 2:
            continue
        x, k = scale.input
        if scale.op_type == "Mul" and _constant(graph, x) is not None:
            x, k = k, x
        if not _scalar(graph, k, float(np.sqrt(2.0)) if scale.op_type == "Div" else float(1 / np.sqrt(2.0))):
            continue
        add = only(erf.output[0], "Add")
        one = _other(add, erf.output[0]) if add is not None else None
        if one is None or not _scalar(graph, one, 1.0):
            continue
        first = only(add.output[0], "Mul")
        inner = _other(first, add.output[0]) if first is not None else None
        last = only(first.output[0], "Mul") if first is not None else None
        outer = _other(last, first.output[0]) if last is not None else None
        # TorchScript: (x * (1 + erf)) * 0.5; dynamo: x * (0.5 * (1 + erf))
        if inner is None or outer is None or not ((inner == x and _scalar(graph, outer, 0.5)) or
                                                  (outer == x and _scalar(graph, inner, 0.5))):
            continue
        name = f"{erf.name or erf.output[0]}_gelu"
        graph.initializer.append(numpy_helper.from_array(np.asarray(0.5, np.float32), f"{name}_half"))
        half_x = helper.make_node("Mul", [x, f"{name}_half"], [f"{name}_half_x"], name=f"{name}_half_x")
        del first.input[:]
        first.input.extend([f"{name}_half_x", add.output[0]])
        del first.output[:]
        first.output.extend(last.output)
        graph.node.remove(last)
        graph.node.insert(list(graph.node).index(first), half_x)
        fixed += 1
    return fixed


def sums_to_adds(model: Any) -> int:
    """Each ``Sum`` (Caffe2's and MXNet's residual additions) as a chain of ``Add``s; returns how many.

    onnx2tf makes ``Sum`` TensorFlow's ``AddN``, which TFLite has no int8 kernel for: the int8 model then
    dequantizes to float around every residual addition (an int8-mixed model) and XNNPACK may refuse it.
    ``Add`` quantizes. Addition is the same in either order of the operands.
    """
    from onnx import helper

    if _opset(model) < 7:
        return 0  # Add broadcasts from opset 7 on
    graph = model.graph
    changed = 0
    for index in range(len(graph.node) - 1, -1, -1):
        node = graph.node[index]
        if node.op_type != "Sum" or len(node.input) < 2:
            continue
        ins, out, base = list(node.input), node.output[0], node.name or node.output[0]
        adds, acc = [], ins[0]
        for k, term in enumerate(ins[1:], 1):
            target = out if k == len(ins) - 1 else f"{base}_add{k}"
            adds.append(helper.make_node("Add", [acc, term], [target], name=f"{base}_add{k}" if k < len(ins) - 1
                                         else (node.name or f"{base}_add{k}")))
            acc = target
        graph.node.remove(node)
        for k, add in enumerate(adds):
            graph.node.insert(index + k, add)
        changed += 1
    return changed


def whole_input_average_pools(model: Any, shapes: dict[str, list[int]] | None = None) -> int:
    """Each AveragePool whose one window covers its whole input as a GlobalAveragePool; returns how many.

    Caffe's pooling rounds its output size up, so Caffe2's exports close GoogLeNet with a 7x7 average over a
    6x6 map padded at the end (``pads [0, 0, 1, 1]``, padding not counted). That is the mean of the 36 values;
    onnx2tf divides by 49 as if the padding counted. A global average is the same mean and converts exactly.
    """
    from onnx import helper

    graph = model.graph
    pools = [n for n in graph.node if n.op_type == "AveragePool"]
    if not pools:
        return 0
    shapes = shapes_of(model) if shapes is None else shapes
    if shapes is None:  # without shapes nothing can be shown to cover its input
        return 0
    changed = 0
    for node in pools:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        dims = shapes.get(node.input[0], [])[2:]
        kernel = list(attrs.get("kernel_shape", []))
        pads = list(attrs.get("pads", [0] * 2 * len(kernel)))
        if (not dims or 0 in dims or len(kernel) != len(dims) or attrs.get("count_include_pad", 0)
                or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"", "")):
            continue
        begins, ends = pads[:len(dims)], pads[len(dims):]
        one_window = all(d + b + e - k < s for d, b, e, k, s in  # the output is 1 along every axis
                         zip(dims, begins, ends, kernel, attrs.get("strides", [1] * len(dims)), strict=True))
        covers = all(k - b >= d for k, b, d in zip(kernel, begins, dims, strict=True))
        if not (one_window and covers and not attrs.get("ceil_mode", 0)):
            continue
        index = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(index, helper.make_node("GlobalAveragePool", [node.input[0]], list(node.output),
                                                  name=node.name))
        changed += 1
    return changed


BROADCASTING = ("Add", "Sub", "Mul", "Div")


def full_rank_constants(model: Any, shapes: dict[str, list[int]] | None = None) -> int:
    """Give each per-channel constant of an elementwise op the rank of the tensor it meets; returns how many.

    Caffe2 writes DenseNet's and Inception v2's batch-norm scale as ``Unsqueeze(scale, [1, 2])``: a (C, 1, 1)
    constant multiplied with an NCHW map. onnx2tf transposes the map to NHWC but not a constant of lower rank
    (``Dimensions must be equal, but are 56 and 64``); as (1, C, 1, 1) it is transposed with the map.
    Broadcasting prepends the ones anyway, so the result is the same. (onnxslim folds the Unsqueeze first;
    the file as it is keeps it.)
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    values = {i.name: i for i in graph.initializer}
    shapes = shapes_of(model) if shapes is None else shapes
    if shapes is None:  # without ranks nothing is changed
        return 0
    changed = 0
    for node in graph.node:
        if node.op_type not in BROADCASTING or len(node.input) != 2:
            continue
        for k, name in enumerate(node.input):
            other = len(shapes.get(node.input[1 - k], ()))
            if name not in values or other != 4:
                continue
            array = numpy_helper.to_array(values[name])
            if not 1 < array.ndim < 4 or array.size == 1:
                continue
            full = f"{name}_rank4"
            if full not in values:
                graph.initializer.append(numpy_helper.from_array(array.reshape((1,) * (4 - array.ndim) + array.shape),
                                                                 full))
                values[full] = graph.initializer[-1]
                if model.ir_version < 4:  # IR 3 lists every initializer among the graph's inputs
                    graph.input.append(helper.make_tensor_value_info(full, values[name].data_type, [
                        *(1,) * (4 - array.ndim), *array.shape]))
            node.input[k] = full
            changed += 1
    return changed


def fix_graph(model: Any) -> dict[str, int]:
    """Every fix, in place; how many places each changed (only those that changed something).

    Shapes are inferred once, after the fixes that add tensors: a pool made global keeps every shape."""
    done = {"max_pool_padding": pad_max_pools(model), "gelu": gelu_for_tflite(model), "sum": sums_to_adds(model)}
    shapes = shapes_of(model)
    done |= {"whole_input_average_pool": whole_input_average_pools(model, shapes),
             "rank": full_rank_constants(model, shapes)}
    return {k: v for k, v in done.items() if v}
