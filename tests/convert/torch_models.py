"""A small PyTorch CNN trained here and exported to ONNX and ``.pt2`` (torch alone, no torchvision).

Run as a script in the converter venv (``.venv-convert``, where torch lives)::

    python -m tests.convert.torch_models DATA OUT

It writes ``OUT/net.onnx``, ``OUT/net.pt2``, ``OUT/net_dynamic.onnx`` (dynamic height/width),
``OUT/two_inputs.onnx``, ``OUT/two_outputs.onnx``, ``OUT/labels.txt``,
``OUT/torch_top1.json`` (the module's own top-1 on the test split, ImageNet-normalized, NCHW),
``OUT/same_pad_{ts11,ts17,dynamo18}.onnx`` (the net behind an EfficientNet-port-style block: "same"
padding computed from the input's size, a residual add, ``x.view(x.size(0), -1)``; exported by the
TorchScript exporter at opsets 11 and 17 and by the dynamo exporter) and ``OUT/bias_gelu.onnx`` (an
onnxruntime contrib op that onnx2tf has no converter for) and ``OUT/maxpool_stem.onnx`` (ResNet's padded
stem max-pool in front of the net), ``OUT/gelu_head.onnx`` (the net's features through a transformer-style
MLP with exact GELU, TorchScript exporter, opset 17) and ``OUT/zoo_squeezenet.onnx`` (the ONNX Model Zoo's
SqueezeNet as the ``onnx`` wheel ships it, opset 9 from Caffe2, ``(1, 1000, 1, 1)`` output, its weights made
by ``benchmarks/lib/onnx_zoo.py`` and its head fitted to the train photos), ``OUT/lrn_net.onnx`` (AlexNet's
local response normalization, which has no int8 kernel, in front of the net) and ``OUT/keras_nhwc.onnx`` (a
Keras CNN exported by tf2onnx: NHWC, ``:0`` names).
The network ends in logits, as PyTorch classifiers usually do.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SIZE = 48
MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def _load(data: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """NCHW, ImageNet-normalized batches of the split, decoded and centre-cropped by edgevision's own
    loader: the original model is judged on exactly the pixels the converter compares it on."""
    from edgevision.data.loader import load_pixels
    from edgevision.model.spec import PreprocessSpec

    spec = PreprocessSpec(width=SIZE, height=SIZE, crop="center")
    classes = sorted(p.name for p in (data / split).iterdir() if p.is_dir())
    xs, ys, files = [], [], []
    for i, c in enumerate(classes):
        for f in sorted((data / split / c).iterdir()):
            img, ok = load_pixels(str(f), spec)
            if ok:
                xs.append(img)
                ys.append(i)
                files.append(str(f))
    x = ((np.stack(xs).astype(np.float32) - MEAN) / STD).transpose(0, 3, 1, 2)
    return x, np.asarray(ys), classes, files


def build(data: Path, out: Path, epochs: int = 15) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y, classes, _ = _load(data, "train")

    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, len(classes)))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    net.eval()
    out.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(net, (example,), str(out / "net.onnx"), input_names=["input"], output_names=["logits"],
                      dynamo=False)
    torch.onnx.export(net, (example,), str(out / "net_dynamic.onnx"), input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {2: "h", 3: "w"}}, dynamo=False)
    torch.export.save(torch.export.export(net, (example,)), str(out / "net.pt2"))

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.net(a) + self.net(b)

    class Heads(Two):
        def forward(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
            y = self.net(a)
            return y, y[:, :4]

    torch.onnx.export(Two().eval(), (example, example), str(out / "two_inputs.onnx"), dynamo=False)
    torch.onnx.export(Heads().eval(), (example,), str(out / "two_outputs.onnx"), dynamo=False)
    (out / "labels.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    net.eval()
    same = same_pad_block(net).eval()
    for name, dynamo, opset in (("same_pad_ts11", False, 11), ("same_pad_ts17", False, 17),
                                ("same_pad_dynamo18", True, 18)):
        torch.onnx.export(same, (example,), str(out / f"{name}.onnx"), input_names=["input"],
                          output_names=["logits"], opset_version=opset, dynamo=dynamo)
    bias_gelu(out / "bias_gelu.onnx", len(classes))
    stem = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                         nn.Upsample(scale_factor=2.0, mode="nearest"), net).eval()
    nn.init.dirac_(stem[0].weight)  # ResNet's stem pooling (3x3, stride 2, padding 1) in front of the trained net
    torch.onnx.export(stem, (example,), str(out / "maxpool_stem.onnx"), input_names=["input"],
                      output_names=["logits"], opset_version=13, dynamo=False)
    gelu = nn.Sequential(net[:-1], nn.Linear(64, 96), nn.GELU(), nn.Linear(96, len(classes))).eval()
    torch.onnx.export(gelu, (example,), str(out / "gelu_head.onnx"), input_names=["input"], output_names=["logits"],
                      opset_version=17, dynamo=False)
    zoo_squeezenet(data, out / "zoo_squeezenet.onnx")
    lrn_net(out / "net.onnx", out / "lrn_net.onnx")
    keras_nhwc(out / "keras_nhwc.onnx", len(classes))
    net.eval()  # exporting the wrappers (built in training mode) put net back in training mode on the way out
    xs, _, _, files = _load(data, "test")
    with torch.no_grad():
        top1 = net(torch.from_numpy(xs)).argmax(-1).tolist()
    (out / "torch_top1.json").write_text(json.dumps(dict(zip(files, top1, strict=True))), encoding="utf-8")


def _same_pad_block() -> type:
    import math

    import torch
    from torch import nn

    class SamePadBlock(nn.Module):
        """TensorFlow-style "same" padding computed from the input size at run time, as EfficientNet ports do
        (the TorchScript exporter turns it into Shape/Gather/Div/Pad arithmetic), a residual add, and a
        flatten by ``view(size(0), -1)``, in front of a trained net."""

        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            torch.manual_seed(1)
            self.conv = nn.Conv2d(3, 3, 3, stride=2, bias=False)
            self.skip = nn.Conv2d(3, 3, 1, stride=2, bias=False)
            nn.init.normal_(self.conv.weight, 0.0, 0.05)
            nn.init.dirac_(self.skip.weight)
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            ih, iw = x.size()[-2:]
            ph = max((math.ceil(ih / 2) - 1) * 2 + 3 - ih, 0)
            pw = max((math.ceil(iw / 2) - 1) * 2 + 3 - iw, 0)
            y = self.conv(nn.functional.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])) + self.skip(x)
            y = nn.functional.interpolate(y, scale_factor=2.0, mode="nearest")
            z = self.net[:-1](y)
            return self.net[-1](z.view(z.size(0), -1))

    return SamePadBlock


def same_pad_block(net: object) -> object:
    return _same_pad_block()(net)


def bias_gelu(path: Path, classes: int) -> None:
    """(1, 3, SIZE, SIZE) -> mean -> MatMul -> com.microsoft BiasGelu -> (1, classes): runs in onnxruntime,
    but onnx2tf has no converter for the contrib op."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(3, classes)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.normal(size=(classes,)).astype(np.float32), "b")
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"], name="pool"),
             helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
             helper.make_node("MatMul", ["flat", "w"], ["mm"], name="fc"),
             helper.make_node("BiasGelu", ["mm", "b"], ["logits"], name="head_gelu", domain="com.microsoft")]
    graph = helper.make_graph(nodes, "bias_gelu", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                 [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], [w, b])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    onnx.save(model, str(path))


def zoo_squeezenet(data: Path, path: Path) -> None:
    """The light ONNX Model Zoo SqueezeNet with materialized weights, its head fitted to the train photos."""
    from benchmarks.lib import onnx_zoo
    from edgevision.data.loader import load_pixels
    from edgevision.model.spec import PreprocessSpec

    spec = PreprocessSpec(width=224, height=224, crop="center")
    xs, ys = [], []
    for i, c in enumerate(sorted(p for p in (data / "train").iterdir() if p.is_dir())):
        for f in sorted(c.iterdir()):
            img, ok = load_pixels(str(f), spec)
            if ok:
                xs.append(img)
                ys.append(i)
    x = (np.stack(xs).astype(np.float32) - np.asarray(onnx_zoo.CAFFE_MEAN, np.float32)).transpose(0, 3, 1, 2)
    onnx_zoo.light_model("squeezenet", path, np.ascontiguousarray(x), np.asarray(ys))


def lrn_net(src: Path, path: Path) -> None:
    """AlexNet's LRN op (torch exports nn.LocalResponseNorm decomposed, so it is added here) in front of the net."""
    import onnx
    from onnx import helper

    model = onnx.load(str(src))
    for node in model.graph.node:
        node.input[:] = ["input_lrn" if name == "input" else name for name in node.input]
    model.graph.node.insert(0, helper.make_node("LRN", ["input"], ["input_lrn"], name="norm1", size=3, alpha=1e-4,
                                                beta=0.75, bias=1.0))
    onnx.save(model, str(path))


def keras_nhwc(path: Path, classes: int) -> None:
    """A small Keras CNN exported by tf2onnx: NHWC input, tensor names with ':0', a softmax output. Not written
    when tf2onnx is not installed (the test that needs it then skips)."""
    try:
        import tf2onnx
    except ImportError:
        return
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(classes, activation="softmax")(x))
    spec = (tf.TensorSpec((1, SIZE, SIZE, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_function(tf.function(lambda t: model(t, training=False)), input_signature=spec, opset=13,
                                  output_path=str(path))


def latency_ms(path: Path, runs: int = 50) -> float:
    """Median single-image latency of the original model in its own runtime (onnxruntime or PyTorch)."""
    import time

    x = np.zeros((1, 3, SIZE, SIZE), np.float32)
    if path.suffix == ".onnx":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def once() -> None:
            sess.run(None, {name: x})
    else:
        import torch

        module, t = torch.export.load(str(path)).module(), torch.from_numpy(x)

        def once() -> None:
            with torch.no_grad():
                module(t)
    for _ in range(5):
        once()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


if __name__ == "__main__":
    if sys.argv[1] == "--latency":
        print(json.dumps({"ms": latency_ms(Path(sys.argv[2]))}))
    else:
        build(Path(sys.argv[1]), Path(sys.argv[2]))
