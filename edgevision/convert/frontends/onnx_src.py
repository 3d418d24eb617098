"""[TF] ONNX models: onnxruntime is the reference, onnx2tf makes the TensorFlow graph.

onnx2tf (the route Ultralytics takes to TFLite) turns the ONNX graph into a Keras model
with NHWC layout — NCHW inputs are transposed once, at conversion — so the result feeds on
HWC frames like every edgevision model. It is told the input size when the ONNX file leaves
height/width dynamic (``--size``), and never downloads anything: it looks for sample images
in its working directory, so it runs in a temporary one holding 20 of the user's images.

ONNX as it is in the wild — the TorchScript exporter's Shape/Gather/Concat arithmetic around
padding and flattening, opsets 11 to 18, tf2onnx's and Keras' exports — goes through a
route of attempts, first success wins: the graph simplified by onnxslim (constant folding
at the fixed input size, the usual cure for shapes onnx2tf cannot infer), the file as it
is, then onnx2tf's own repair of broadcasting and layout errors (``auto_generate_json_on_error``).
Every attempt first gets ``onnx_fixes``: the same function rewritten where onnx2tf or the TFLite
converter would trip (exact GELU, Caffe2's ``Sum``, padded max- and whole-input average pools).
Classic files (ONNX Model Zoo, opset 7 to 9, Caffe2/MXNet) may end in ``(batch, classes, 1, 1)``.
When every attempt fails, the error names the ONNX node and op onnx2tf stopped at.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.convert.converter_errors import reason_of
from edgevision.convert.frontends.frontend_base import BroughtModel
from edgevision.convert.frontends.onnx_fixes import fix_graph
from edgevision.errors import BadInput, MissingDependency

SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"  # the name onnx2tf looks for


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]


def _graph_io(model: Any, origin: str) -> tuple[Any, list[Any]]:
    init = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    if len(inputs) != 1:
        raise BadInput(f"{origin}: model has {len(inputs)} inputs; an image classifier has exactly one")
    if len(model.graph.output) != 1:
        raise BadInput(f"{origin}: model has {len(model.graph.output)} outputs (a detector or multi-head model?); "
                       "an image classifier has one (batch, classes) output")
    return inputs[0], list(model.graph.output)


def _dims(value_info: Any) -> list[int | None]:
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in value_info.type.tensor_type.shape.dim]


def inspect_onnx(path: Path, size: tuple[int, int] | None) -> dict[str, Any]:
    """Layout, fixed size and class count of a single-image ONNX classifier; one-line errors otherwise."""
    try:
        import onnx
    except ImportError:
        raise MissingDependency("onnx", "onnx-source", f"{path}: reading an ONNX model") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf decode errors
        raise BadInput(f"{path}: not a readable ONNX model ({_first(exc)})") from None
    inp, outs = _graph_io(model, str(path))
    if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise BadInput(f"{path}: input {inp.name!r} is not float32 (type {inp.type.tensor_type.elem_type}); an image "
                       "classifier takes float pixels")
    dims = _dims(inp)
    if len(dims) != 4:
        raise BadInput(f"{path}: input {inp.name!r} has shape {dims}; not an image (batch, channels, height, width)")
    if dims[1] in (1, 3):
        layout, c, h, w = "NCHW", dims[1], dims[2], dims[3]
    elif dims[3] in (1, 3):
        layout, c, h, w = "NHWC", dims[3], dims[1], dims[2]
    else:
        raise BadInput(f"{path}: input {inp.name!r} has shape {dims}; neither NCHW nor NHWC with 1 or 3 channels")
    if h is None or w is None:
        if size is None:
            raise BadInput(f"{path}: input {inp.name!r} has a dynamic height/width ({dims}); give the size the model "
                           "should run at with --size WxH")
        w, h = size
    out = _dims(outs[0])
    # Caffe2's and MXNet's exports end in a 1x1 convolution or pooled softmax: (batch, classes, 1, 1)
    if len(out) < 2 or None in out[1:] or sum(d > 1 for d in out[1:]) > 1:
        raise BadInput(f"{path}: output shape {out} is not (batch, classes)")
    return {"input": inp.name, "layout": layout, "channels": c, "height": h, "width": w,
            "classes": int(np.prod(out[1:])),
            "dynamic": dims[2 if layout == "NCHW" else 1] is None}


def _samples_file(folder: Path, images: np.ndarray | None) -> None:
    """onnx2tf's output check on our own images (0..1, 128x128, 20 of them), instead of its download."""
    import cv2

    base = images if images is not None and len(images) else np.full((1, 128, 128, 3), 127, np.uint8)
    picked = [cv2.resize(base[i % len(base)], (128, 128)) for i in range(20)]
    np.save(folder / SAMPLE_FILE, np.stack(picked).astype(np.float32) / 255.0)


@dataclass(frozen=True)
class Attempt:
    """One way of handing the file to onnx2tf."""

    name: str
    slim: bool
    options: tuple[tuple[str, Any], ...] = ()


ROUTE = (Attempt("onnxslim + onnx2tf", True), Attempt("onnx2tf", False),
         Attempt("onnxslim + onnx2tf (auto-repair of broadcasting/layout)", True,
                 (("auto_generate_json_on_error", True),)))
_NODE = re.compile(r"onnx_op_name:\s*(\S+)")


def slim_model(path: Path, folder: Path, shape: list[int], input_name: str) -> tuple[Path | None, dict[str, int]]:
    """The graph simplified at its fixed input size (onnxslim) and fixed (``onnx_fixes``), or None when onnxslim is
    absent or fails; and what the fixes changed."""
    try:
        import onnx
        import onnxslim
    except ImportError:
        return None, {}
    out = folder / "slim.onnx"
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model = onnxslim.slim(onnx.load(str(path)), input_shapes=[f"{input_name}:{','.join(map(str, shape))}"])
        if model is None:
            return None, {}
        done = fix_graph(model)
        onnx.save(model, str(out))
    except Exception:  # noqa: BLE001 - a simplifier failure only means this attempt is skipped
        return None, {}
    return out, done


def fixed_model(path: Path, folder: Path) -> tuple[Path, dict[str, int]]:
    """The file with ``onnx_fixes`` applied (a copy, only when one changed something), and what they changed."""
    try:
        import onnx

        model = onnx.load(str(path))
        done = fix_graph(model)
        if not done:
            return path, {}
        out = folder / "fixed.onnx"
        onnx.save(model, str(out))
    except Exception:  # noqa: BLE001 - an unfixable file still gets its attempt as it is
        return path, {}
    return out, done


def _nodes_of(path: Path, op: str) -> list[str]:
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001
        return []
    return [n.name or f"#{i}" for i, n in enumerate(graph.node) if n.op_type == op]


def _op_of(path: Path, node: str) -> str:
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001
        return "?"
    return next((n.op_type for n in graph.node if n.name == node), "?")


def _run_onnx2tf(onnx2tf: Any, path: Path, folder: Path, shape_arg: str, attempt: Attempt,
                 nhwc_input: str | None = None) -> tuple[Any, str]:
    """(keras model or None, the failure: the first line of onnx2tf's error and the node it names).

    onnx2tf takes every 4-D input for NCHW and transposes it; an NHWC input (tf2onnx's and Keras' exports)
    is named to it as one to keep."""
    log = io.StringIO()
    keep = {"keep_nwc_or_nhwc_or_ndhwc_input_names": [nhwc_input]} if nhwc_input else {}
    try:
        with contextlib.chdir(folder), contextlib.redirect_stdout(log):
            logging.getLogger("onnx2tf").setLevel(logging.ERROR)
            model = onnx2tf.convert(input_onnx_file_path=str(path.resolve()), output_folder_path=str(folder),
                                    overwrite_input_shape=[shape_arg], disable_model_save=True, non_verbose=True,
                                    **keep, **dict(attempt.options))
        return model, ""
    except SystemExit:
        message = "onnx2tf stopped"
    except ModuleNotFoundError as exc:  # onnx2tf imports one module per op type: a missing one is an unsupported op
        op = (exc.name or "").rpartition(".")[2]
        if not (exc.name or "").startswith("onnx2tf.ops.") or not op:
            raise
        nodes = _nodes_of(path, op)
        where = f"node {nodes[0]!r} ({op})" if nodes else f"op {op}"
        more = f" and {len(nodes) - 1} more node(s)" if len(nodes) > 1 else ""
        return None, f"{where}{more}: onnx2tf has no converter for the op {op}"
    except Exception as exc:  # noqa: BLE001 - converter errors of every kind
        message = reason_of(exc)
    found = _NODE.findall(log.getvalue())
    if found:
        message = f"node {found[-1]!r} ({_op_of(path, found[-1])}): {message}"
    return None, message


def load_onnx(path: Path, size: tuple[int, int] | None, sample_images: np.ndarray | None = None) -> BroughtModel:
    info = inspect_onnx(path, size)
    try:
        import onnx2tf
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependency(exc.name or "onnx2tf", "onnx-source", f"{path}: converting an ONNX model") from None
    h, w, c, nchw = info["height"], info["width"], info["channels"], info["layout"] == "NCHW"
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # batch 1 on a busy machine: no spinning
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise BadInput(f"{path}: onnxruntime cannot load the model, so there is no reference to check a "
                       f"conversion against ({_first(exc)})") from None

    def run(x: np.ndarray) -> np.ndarray:
        feed = x.transpose(0, 3, 1, 2) if nchw else x
        return np.concatenate([sess.run(None, {info["input"]: feed[i:i + 1]})[0] for i in range(len(feed))])

    shape = [1, c, h, w] if nchw else [1, h, w, c]
    shape_arg = f"{info['input']}:{','.join(map(str, shape))}"
    tried: list[dict[str, str]] = []
    keras_model, used = None, None
    with tempfile.TemporaryDirectory(prefix="edgevision-onnx2tf-") as tmp:
        folder = Path(tmp)
        _samples_file(folder, sample_images)
        prepared: dict[bool, tuple[Path | None, dict[str, int]]] = {}  # slimmed or not -> (file, fixes made)
        for attempt in ROUTE:
            if attempt.slim not in prepared:  # each made once, when an attempt first needs it
                prepared[attempt.slim] = (slim_model(path, folder, shape, info["input"]) if attempt.slim
                                          else fixed_model(path, folder))
            source = prepared[attempt.slim][0]
            if source is None:
                tried.append({"attempt": attempt.name, "error": "onnxslim not installed or failed"})
                continue
            keras_model, error = _run_onnx2tf(onnx2tf, source, folder, shape_arg, attempt,
                                              None if nchw else info["input"])
            if keras_model is not None:
                used = attempt
                break
            tried.append({"attempt": attempt.name, "error": error})
    if keras_model is None or used is None:
        worst = next((t for t in tried if t["error"].startswith("node ")), tried[-1] if tried else {"error": "?"})
        raise BadInput(f"{path}: onnx2tf could not convert the model: {worst['error']} (tried "
                       f"{'; '.join(t['attempt'] for t in tried)}; run onnx2tf -i {path.name} for its full log)")

    def fn(x: Any) -> Any:
        return keras_model(x, training=False)

    version = getattr(onnx2tf, "__version__", "")
    done = prepared[used.slim][1]
    rewritten = f"; rewritten: {', '.join(f'{k} x{v}' for k, v in done.items())}" if done else ""
    route = f"{used.name.replace('onnx2tf', f'onnx2tf {version}'.strip())} ({info['layout']} -> NHWC{rewritten})"
    return BroughtModel(kind="onnx", origin=str(path), height=h, width=w, channels=c, classes=info["classes"],
                        run_original=run, tf_function=fn, keepalive=keras_model, route=route,
                        notes={"layout": info["layout"], "dynamic_size": info["dynamic"], "graph_fixes": done,
                               "failed_attempts": tried})
