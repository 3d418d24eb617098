"""[TF] ONNX models: onnxruntime is the reference, onnx2tf makes the TensorFlow graph.

onnx2tf (the route Ultralytics takes to TFLite) turns the ONNX graph into a Keras model
with NHWC layout — NCHW inputs are transposed once, at conversion — so the result feeds on
HWC frames like every edgevision model. It is told the input size when the ONNX file leaves
height/width dynamic (``--size``), and never downloads anything: it looks for sample images
in its working directory, so it runs in a temporary one holding 20 of the user's images.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.convert.frontends.frontend_base import BroughtModel
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
    if len(out) != 2 or out[1] is None:
        raise BadInput(f"{path}: output shape {out} is not (batch, classes)")
    return {"input": inp.name, "layout": layout, "channels": c, "height": h, "width": w, "classes": out[1],
            "dynamic": dims[2 if layout == "NCHW" else 1] is None}


def _samples_file(folder: Path, images: np.ndarray | None) -> None:
    """onnx2tf's output check on our own images (0..1, 128x128, 20 of them), instead of its download."""
    import cv2

    base = images if images is not None and len(images) else np.full((1, 128, 128, 3), 127, np.uint8)
    picked = [cv2.resize(base[i % len(base)], (128, 128)) for i in range(20)]
    np.save(folder / SAMPLE_FILE, np.stack(picked).astype(np.float32) / 255.0)


def load_onnx(path: Path, size: tuple[int, int] | None, sample_images: np.ndarray | None = None) -> BroughtModel:
    info = inspect_onnx(path, size)
    try:
        import onnx2tf
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependency(exc.name or "onnx2tf", "onnx-source", f"{path}: converting an ONNX model") from None
    h, w, c, nchw = info["height"], info["width"], info["channels"], info["layout"] == "NCHW"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(x: np.ndarray) -> np.ndarray:
        feed = x.transpose(0, 3, 1, 2) if nchw else x
        return np.concatenate([sess.run(None, {info["input"]: feed[i:i + 1]})[0] for i in range(len(feed))])

    shape = [1, c, h, w] if nchw else [1, h, w, c]
    with tempfile.TemporaryDirectory(prefix="edgevision-onnx2tf-") as tmp:
        _samples_file(Path(tmp), sample_images)
        try:
            with contextlib.chdir(tmp), contextlib.redirect_stdout(io.StringIO()):
                logging.getLogger("onnx2tf").setLevel(logging.ERROR)
                keras_model = onnx2tf.convert(input_onnx_file_path=str(path.resolve()), output_folder_path=tmp,
                                              overwrite_input_shape=[f"{info['input']}:{','.join(map(str, shape))}"],
                                              disable_model_save=True, non_verbose=True)
        except SystemExit:
            raise BadInput(f"{path}: onnx2tf could not convert the model (it stopped; run onnx2tf -i {path.name} "
                           "for its log)") from None
        except Exception as exc:  # noqa: BLE001 - converter errors of every kind
            raise BadInput(f"{path}: onnx2tf could not convert the model ({_first(exc)})") from None

    def fn(x: Any) -> Any:
        return keras_model(x, training=False)

    route = f"onnx2tf {getattr(onnx2tf, '__version__', '')} ({info['layout']} -> NHWC)".replace("  ", " ")
    return BroughtModel(kind="onnx", origin=str(path), height=h, width=w, channels=c, classes=info["classes"],
                        run_original=run, tf_function=fn, keepalive=keras_model, route=route,
                        notes={"layout": info["layout"], "dynamic_size": info["dynamic"]})
