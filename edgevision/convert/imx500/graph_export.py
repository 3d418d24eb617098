"""[TF] A Keras 3 model as plain data (layer list + weights) that the IMX500 toolchain's TF 2.15 rebuilds.

Sony's converter runs in its own venv (TensorFlow 2.15, tf.keras 2), which cannot read a
Keras 3 ``.keras`` file. Instead of crossing venvs with pickles, the model is written as a
JSON list of layers (class, Keras-2-compatible config, input tensors) and a ``.npz`` of
weights; nested functional models (a MobileNet backbone) are flattened into one graph.

The IMX500 refuses a ``Rescaling`` layer. A Rescaling (or a Normalization with fixed
statistics) that takes the image directly is removed here and returned as the (mean, std) it
applied on 0..255 pixels, ``x' = (x - mean) / std``; ``with_input_normalization`` then puts the
whole input normalization back as a layer the IMX500 runs (a 1x1 DepthwiseConv2D: one weight
and one bias per channel, exactly the same affine map). Why not the sensor's own input
normalization: ``imx500-package`` takes no normalization and writes an identity one into the
.rpk (``inputTensorNorm_K00=0x0400`` ...), so the network must take raw pixels. A Rescaling
deeper in the graph is kept: the converter then names it as unsupported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BadInput

GRAPH_SCHEMA = "edgevision.imx500-graph/1"
# Keras 3 config keys tf.keras 2.15 does not know; initializers etc. are irrelevant (weights are set)
_DROP_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_DROP_KEYS = {"dtype", "trainable", "seed", "synchronized"}


@dataclass(frozen=True)
class ExportedGraph:
    """What was written and what was taken out of the graph."""

    graph_path: Path
    weights_path: Path
    mean: tuple[float, ...]
    std: tuple[float, ...]
    removed: tuple[str, ...]   # input normalization layers taken out (replaced by ``norm_layer``)
    layers: int
    norm_layer: str | None = None  # the IMX500-runnable layer that normalizes raw pixels, when one was added


def _clean_config(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        if k in _DROP_KEYS or k.endswith(_DROP_SUFFIXES):
            continue
        if isinstance(v, (np.ndarray, np.generic)):  # tf.keras 2 keeps some values as numpy (ReLU max_value)
            v = v.tolist()
        if isinstance(v, dict) and "class_name" in v and "module" in v:  # a serialized Keras 3 object
            v = v.get("config", {}).get("name", v["class_name"]) if k == "activation" else v.get("class_name")
            if v is None:
                continue
        out[k] = v
    return out


def _history(t: Any) -> tuple[Any, int, int]:
    h = t._keras_history  # (operation, node_index, tensor_index); tf.keras 2: KerasHistory(layer, ...)
    return h[0], int(h[1]), int(h[2])


def _as_list(x: Any) -> list[Any]:
    """A node's tensors as a list (tf.keras 2 keeps a single tensor unwrapped)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _rescaling_norm(scale: Any, offset: Any) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(mean, std) on 0..255 pixels equivalent to ``x * scale + offset``."""
    sc, off = np.broadcast_arrays(np.atleast_1d(np.asarray(scale, np.float64)),
                                  np.atleast_1d(np.asarray(offset, np.float64)))
    if np.any(sc == 0):
        return None
    return tuple(float(v) for v in -off / sc), tuple(float(v) for v in 1.0 / sc)


def _stats_norm(mean: Any, variance: Any) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    m, sd = np.ravel(np.asarray(mean, np.float64)), np.sqrt(np.ravel(np.asarray(variance, np.float64)))
    if np.any(sd == 0):
        return None
    return tuple(float(v) for v in m), tuple(float(v) for v in sd)


class _Flattener:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.weights: dict[str, np.ndarray] = {}
        self.names: set[str] = set()

    def unique(self, name: str) -> str:
        base, i = name, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def walk(self, model: Any, inputs: list[str], prefix: str = "") -> list[str]:
        """Emit model's layers with ``inputs`` as its input tensor ids; return its output tensor ids."""
        ids: dict[tuple[int, int, int], str] = {}
        for t, tid in zip(model.inputs, inputs, strict=True):
            op, n, i = _history(t)
            ids[(id(op), n, i)] = tid
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                op = getattr(node, "operation", None) or node.layer  # Keras 3 | tf.keras 2 (tf_keras)
                if type(op).__name__ == "InputLayer":
                    continue
                ins = []
                for t in _as_list(node.input_tensors):
                    o, n, i = _history(t)
                    key = (id(o), n, i)
                    if key not in ids:
                        raise BadInput(f"layer {op.name}: input tensor not produced by the graph")
                    ins.append(ids[key])
                if hasattr(op, "_nodes_by_depth") and hasattr(op, "inputs"):  # a nested functional model
                    outs = self.walk(op, ins, prefix=f"{prefix}{op.name}/")
                else:
                    outs = self.emit(op, ins, len(_as_list(node.outputs)))
                for k, t in enumerate(_as_list(node.outputs)):
                    o, n, i = _history(t)
                    ids[(id(o), n, i)] = outs[k]
        result = []
        for t in model.outputs:
            o, n, i = _history(t)
            result.append(ids[(id(o), n, i)])
        return result

    def emit(self, layer: Any, inputs: list[str], n_out: int) -> list[str]:
        name = self.unique(layer.name)
        weights = [np.asarray(w) for w in layer.get_weights()]
        for j, w in enumerate(weights):
            self.weights[f"{name}:{j}"] = w
        self.records.append({"name": name, "class_name": type(layer).__name__,
                             "config": {**_clean_config(layer.get_config()), "name": name},
                             "inputs": inputs, "weights": len(weights)})
        return [name if n_out == 1 else f"{name}:{k}" for k in range(n_out)]


def export_graph(model: Any, folder: Path) -> ExportedGraph:
    """Write ``graph.json`` + ``weights.npz`` into ``folder``; strip the input normalization."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise BadInput(f"{model.name}: the IMX500 target needs one image input and one score output")
    shape = [int(d) for d in tuple(model.inputs[0].shape)[1:]]
    fl = _Flattener()
    outputs = fl.walk(model, ["input"])
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    removed: list[str] = []
    # the first layers fed by the image: fold an input normalization into the sensor's configuration
    while fl.records:
        first = fl.records[0]
        consumers = [r for r in fl.records if "input" in r["inputs"]]
        if len(consumers) != 1 or consumers[0] is not first or first["inputs"] != ["input"]:
            break
        layer_norm = _norm_from_record(first, fl.weights)
        if layer_norm is None or removed:
            break
        mean, std = layer_norm
        removed.append(f"{first['name']} ({first['class_name']})")
        fl.records.pop(0)
        for r in fl.records:
            r["inputs"] = ["input" if i == first["name"] else i for i in r["inputs"]]
        outputs = ["input" if o == first["name"] else o for o in outputs]
    folder.mkdir(parents=True, exist_ok=True)
    graph = {"schema": GRAPH_SCHEMA, "name": model.name, "input_shape": shape, "layers": fl.records,
             "outputs": outputs}
    gpath, wpath = folder / "graph.json", folder / "weights.npz"
    gpath.write_text(json.dumps(graph, indent=1), encoding="utf-8")
    np.savez(wpath, **fl.weights)
    return ExportedGraph(gpath, wpath, mean, std, tuple(removed), len(fl.records))


NORM_LAYER = "edgevision_input_norm"


def with_input_normalization(graph: ExportedGraph, mean: tuple[float, ...], std: tuple[float, ...],
                             channels: int) -> ExportedGraph:
    """Prepend ``x' = (x - mean) / std`` as a 1x1 DepthwiseConv2D, so the network takes raw 0..255 pixels.

    Nothing is added for the identity (mean 0, std 1). Rewrites graph.json and weights.npz in place.
    """
    m = np.broadcast_to(np.asarray(mean, np.float64), (channels,))
    sd = np.broadcast_to(np.asarray(std, np.float64), (channels,))
    if np.all(m == 0) and np.all(sd == 1):
        return graph
    doc = json.loads(graph.graph_path.read_text(encoding="utf-8"))
    with np.load(graph.weights_path) as w:
        weights = {k: w[k] for k in w.files}
    names = {r["name"] for r in doc["layers"]}
    name = NORM_LAYER if NORM_LAYER not in names else f"{NORM_LAYER}_{len(names)}"
    weights[f"{name}:0"] = (1.0 / sd).astype(np.float32).reshape(1, 1, channels, 1)
    weights[f"{name}:1"] = (-m / sd).astype(np.float32)
    for r in doc["layers"]:
        r["inputs"] = [name if i == "input" else i for i in r["inputs"]]
    doc["outputs"] = [name if o == "input" else o for o in doc["outputs"]]
    doc["layers"].insert(0, {"name": name, "class_name": "DepthwiseConv2D", "inputs": ["input"], "weights": 2,
                             "config": {"name": name, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid",
                                        "depth_multiplier": 1, "use_bias": True, "activation": "linear"}})
    graph.graph_path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    np.savez(graph.weights_path, **weights)
    return ExportedGraph(graph.graph_path, graph.weights_path, graph.mean, graph.std, graph.removed,
                         len(doc["layers"]), name)


def _norm_from_record(rec: dict[str, Any],
                      weights: dict[str, np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    cfg = rec["config"]
    if rec["class_name"] == "Rescaling":
        return _rescaling_norm(cfg.get("scale", 1.0), cfg.get("offset", 0.0))
    if rec["class_name"] == "Normalization" and rec["weights"] >= 2 and not cfg.get("invert"):
        return _stats_norm(weights[f"{rec['name']}:0"], weights[f"{rec['name']}:1"])
    return None
