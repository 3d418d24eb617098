"""Classic ONNX Model Zoo graphs, offline: the light copies the ``onnx`` wheel ships, given real-valued weights.

The ``onnx`` package carries nine ONNX Model Zoo classifiers (AlexNet, DenseNet-121, Inception v1/v2,
ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512: opset 9, converted from Caffe2 by onnx-caffe2)
as graphs whose weights are made at run time by ``ConstantOfShape`` with one value (0.02) — the
architecture exactly as published, without the weight download. Every such weight is made here a
seeded random initializer instead, scaled by what consumes it (He-normal convolution and dense
kernels, batch normalization close to identity), and the output's scale measured on photos so that
the final softmax is neither flat nor one-hot. The graph itself — its opset, LRN, Sum, Dropout,
Gemm, 4-D outputs, names with ``/`` — is left as the zoo wrote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

LIGHT = ("bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
         "vgg19", "zfnet512")
# Caffe-style input: mean-subtracted 0..255 pixels (BGR-trained; the weights are made here, so the order is moot)
CAFFE_MEAN = (104.0, 117.0, 123.0)
CAFFE_NORM = ",".join(f"{v:g}" for v in (*CAFFE_MEAN, 1, 1, 1))


def light_dir() -> Path:
    """Where the installed ``onnx`` package keeps its light model-zoo graphs."""
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def _kernel(shape: tuple[int, ...], rng: np.random.Generator, fan_in: int) -> np.ndarray:
    return (rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))).astype(np.float32)


def materialize(model: Any, seed: int = 0) -> int:
    """Replace every ConstantOfShape with a constant shape input by a seeded random initializer; returns how many.

    The role decides the scale: a Conv's or Gemm's kernel He-normal, a bias small, batch normalization's
    scale near 1, shift and mean near 0 and variance near 1, anything else near 1 when it multiplies and
    near 0 when it adds.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    rng = np.random.default_rng(seed)
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    uses: dict[str, tuple[Any, int]] = {}
    for node in graph.node:
        for k, name in enumerate(node.input):
            uses.setdefault(name, (node, k))
    passthrough = {n.output[0]: n.input[0] for n in graph.node if n.op_type in ("Unsqueeze", "Reshape")}
    consumer = {}
    for node in graph.node:
        for k, name in enumerate(node.input):
            consumer.setdefault(name, (node, k))
            if name in passthrough:
                consumer.setdefault(passthrough[name], (node, k))
    made = 0
    keep = []
    for node in graph.node:
        if node.op_type != "ConstantOfShape" or node.input[0] not in inits:
            keep.append(node)
            continue
        shape = tuple(int(d) for d in inits[node.input[0]])
        user, index = consumer.get(node.output[0], (None, -1))
        op = user.op_type if user is not None else ""
        if op == "Conv" and index == 1:
            value = _kernel(shape, rng, int(np.prod(shape[1:])))
        elif op == "Gemm" and index == 1:
            trans_b = any(a.name == "transB" and a.i for a in user.attribute)
            value = _kernel(shape, rng, shape[1] if trans_b else shape[0])
        elif op == "BatchNormalization" and index in (1, 4):  # scale, variance
            value = (1.0 + 0.1 * rng.standard_normal(shape)) if index == 1 else rng.uniform(0.8, 1.2, shape)
        elif op == "Mul":
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        else:  # biases, shifts, means, Add operands
            value = 0.05 * rng.standard_normal(shape)
        graph.initializer.append(numpy_helper.from_array(np.asarray(value, np.float32), node.output[0]))
        if model.ir_version < 4:  # IR 3 lists every initializer among the graph's inputs, as the zoo's own files do
            graph.input.append(helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, list(shape)))
        made += 1
    del graph.node[:]
    graph.node.extend(keep)
    used = {name for node in graph.node for name in node.input}
    for init in list(graph.initializer):
        if init.name.endswith("__SHAPE") and init.name not in used:
            graph.initializer.remove(init)
    for value in list(graph.input):  # old IR versions list initializers as graph inputs too
        if value.name.endswith("__SHAPE") and value.name not in used:
            graph.input.remove(value)
    return made


RIDGE = 0.1  # x mean(f²) x photos, as torch_zoo's fitted heads


def _head(model: Any) -> Any:
    """The last Conv or Gemm: the classifier layer (a 1x1 convolution in SqueezeNet and DenseNet)."""
    return [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")][-1]


def _features(model: Any, name: str, photos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tensor ``name`` on each photo (NCHW, normalized): spatially averaged (what the head sees), and its
    per-channel smallest and largest value over every position (what a 1x1 convolution head sees somewhere)."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = sess.get_inputs()[0].name
    rows, maps = [], []
    for i in range(len(photos)):
        f = sess.run([name], {feed: photos[i:i + 1]})[0]
        flat = f.reshape(f.shape[0], f.shape[1], -1)
        rows.append(flat.mean(-1))
        maps.append(flat[0].T)
    return np.concatenate(rows).astype(np.float64), np.concatenate(maps).astype(np.float64)


def fit_head(model: Any, photos: np.ndarray, labels: np.ndarray, classes: int) -> None:
    """The classifier layer's first ``classes`` outputs fitted by least squares to the photos' labels (logits
    of a few units, like a trained head); its other outputs kept well below them. The layer's own shape stays."""
    from onnx import TensorProto, helper, numpy_helper

    head = _head(model)
    inits = {i.name: i for i in model.graph.initializer}
    if head.input[1] not in inits:  # GoogLeNet reshapes its classifier's weights first: fit the reshaped kernel
        reshape = next(n for n in model.graph.node if n.output[0] == head.input[1] and n.op_type == "Reshape")
        shaped = numpy_helper.to_array(inits[reshape.input[0]]).reshape(numpy_helper.to_array(inits[reshape.input[1]]))
        model.graph.node.remove(reshape)
        model.graph.initializer.append(numpy_helper.from_array(shaped, head.input[1]))
        inits[head.input[1]] = model.graph.initializer[-1]
        if model.ir_version < 4:
            model.graph.input.append(helper.make_tensor_value_info(head.input[1], TensorProto.FLOAT, shaped.shape))
    weight = numpy_helper.to_array(inits[head.input[1]])
    raw, positions = _features(model, head.input[0], photos)
    # random features share a large common part: fitted standardized, then the standardization folded back in
    mu, sd = raw.mean(0), raw.std(0)
    # a feature (nearly) constant over the photos carries only float noise: standardized, it would amplify the
    # last bits into the logits (DenseNet's random features), so it gets no weight
    sd = np.where(sd > 1e-2 * sd.max(), sd, np.inf)
    f = np.concatenate([(raw - mu) / sd, np.ones((len(raw), 1))], 1)
    target = -np.ones((len(f), classes))
    target[np.arange(len(f)), labels] = 1
    ridge = RIDGE * np.eye(f.shape[1]) * np.mean(f ** 2) * len(f)
    ws = np.linalg.solve(f.T @ f + ridge, f.T @ target) * 4.0   # (features + 1, classes)
    outputs = weight.shape[0] if head.op_type == "Conv" or any(a.name == "transB" and a.i for a in head.attribute) \
        else weight.shape[1]
    rest = np.random.default_rng(1).standard_normal((f.shape[1], outputs - classes)) * np.abs(ws[:-1]).mean() * 0.5
    rest[-1] = -4.0  # the other outputs' logits sit near -4, below the fitted ones
    full_s = np.concatenate([ws, rest], 1)
    full = np.concatenate([full_s[:-1] / sd[:, None], full_s[-1:] - (mu / sd) @ full_s[:-1]], 0)
    # SqueezeNet's 1x1 convolution head is followed by a ReLU, then pooled: every position's logits are lifted
    # above 0 (softmax does not see a shift common to all outputs), so the ReLU passes them and pooling is linear
    lowest = float((positions[:, :] @ full[:-1] + full[-1]).min())
    full[-1] += max(0.0, -lowest) + 1.0
    kernel, bias = full[:-1].T.astype(np.float32), full[-1].astype(np.float32)  # (outputs, features)
    if head.op_type == "Conv":
        kernel = kernel.reshape(weight.shape)
    elif not any(a.name == "transB" and a.i for a in head.attribute):
        kernel = kernel.T
    inits[head.input[1]].CopyFrom(numpy_helper.from_array(kernel, head.input[1]))
    if len(head.input) > 2 and head.input[2] in inits:
        inits[head.input[2]].CopyFrom(numpy_helper.from_array(bias, head.input[2]))
    else:  # a head without a bias (DenseNet's) gets one
        model.graph.initializer.append(numpy_helper.from_array(bias, f"{head.output[0]}_fitted_bias"))
        head.input.append(f"{head.output[0]}_fitted_bias")


def light_model(name: str, out: Path, photos: np.ndarray | None = None, labels: np.ndarray | None = None,
                seed: int = 0) -> Path:
    """The light zoo graph ``name`` with materialized weights (and its head fitted to ``photos`` when given:
    NCHW, normalized as ``CAFFE_NORM`` says), saved to ``out``."""
    import onnx

    model = onnx.load(str(light_dir() / f"light_{name}.onnx"))
    materialize(model, seed)
    if photos is not None and labels is not None:
        fit_head(model, photos, labels, int(labels.max()) + 1)
    onnx.save(model, str(out))
    return out
