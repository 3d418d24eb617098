"""ONNX export of the float32 reference, verified with onnxruntime on the held-out images.

Route: ``tf2onnx.convert.from_tflite`` on the float32 .tflite that the gate used as its
reference, so the ONNX graph is the exact graph whose accuracy the report states (tf2onnx
1.17 also converts Keras 3 models under TF 2.21, but the TFLite route has no tracing step
to drift). The labels and edgevision's model card ride along as ONNX ``metadata_props``.
Both models then classify the same images; the report gives top-1 agreement and the
largest score difference.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BadInput, MissingDependency

OPSET = 17


def check_available() -> None:
    """Fail before any work when the ONNX toolchain is missing."""
    for module, package in (("tf2onnx", "tf2onnx"), ("onnxruntime", "onnxruntime"), ("onnx", "onnx")):
        if importlib.util.find_spec(module) is None:
            raise MissingDependency(package, "onnx", "--format onnx")


def export_onnx(tflite_path: Path, out_path: Path, labels: Sequence[str], card_json: str) -> dict[str, Any]:
    import tf2onnx

    check_available()
    try:
        model_proto, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET)
    except Exception as exc:  # noqa: BLE001 - tf2onnx raises whatever its handlers raise
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
        raise BadInput(f"{tflite_path}: ONNX export failed ({first})") from None
    for key, value in (("labels", "\n".join(labels)), ("edgevision.json", card_json)):
        prop = model_proto.metadata_props.add()
        prop.key, prop.value = key, value
    out_path.write_bytes(model_proto.SerializeToString())
    return {"path": str(out_path), "size_bytes": out_path.stat().st_size, "opset": OPSET,
            "route": f"tf2onnx {tf2onnx.__version__} from_tflite(float32 reference)"}


def verify_onnx(onnx_path: Path, tflite_path: Path, images: np.ndarray, threads: int | None = None) -> dict[str, Any]:
    """Run both models on the same resized images (uint8 NHWC); agreement and max score difference."""
    import onnxruntime as ort

    from edgevision.runtime.classifier import Classifier, ClassifierOptions

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    clf = Classifier(tflite_path, options=ClassifierOptions(threads=threads))
    same = 0
    max_diff = 0.0
    for img in images:
        tensor = clf.preprocessor.from_resized(img)
        ref = clf.infer(tensor)
        got = np.asarray(session.run(None, {name: tensor.astype(np.float32)})[0]).reshape(-1)
        same += int(np.argmax(ref) == np.argmax(got))
        max_diff = max(max_diff, float(np.max(np.abs(ref - got))))
    n = max(1, len(images))
    return {"images": len(images), "agreement": round(same / n, 4), "max_abs_score_diff": max_diff,
            "onnxruntime": ort.__version__}
