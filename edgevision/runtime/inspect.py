"""Everything a model file says about itself, for ``edgevision info`` (no TensorFlow needed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.model.artifact import load_artifact
from edgevision.runtime.interpreter import EDGETPU_CUSTOM_OP, make_interpreter

FLOAT_TYPES = {"float32", "float16"}


def _tensor(d: dict[str, Any]) -> dict[str, Any]:
    scale, zp = d.get("quantization", (0.0, 0))
    return {"name": d["name"], "shape": [int(v) for v in d["shape"]],
            "shape_signature": [int(v) for v in d.get("shape_signature", d["shape"])],
            "dtype": np.dtype(d["dtype"]).name, "scale": float(scale), "zero_point": int(zp)}


def _ops(interp: Any) -> list[str]:
    try:
        return [op["op_name"] for op in interp._get_ops_details()]
    except (AttributeError, KeyError, RuntimeError):
        return []


def quantization_summary(interp: Any) -> str:
    """What the weights and activations really are: int8, float16, dynamic, float32 or mixed."""
    details = interp.get_tensor_details()
    types = Counter(np.dtype(d["dtype"]).name for d in details)
    ops = set(_ops(interp))
    if types.get("float16"):
        return "float16"
    floats = sum(types.get(t, 0) for t in FLOAT_TYPES)
    ints = types.get("int8", 0) + types.get("uint8", 0)
    if ints and not floats:
        return "int8"
    if ints and floats:
        return "dynamic" if ops & {"FULLY_CONNECTED", "CONV_2D"} and "QUANTIZE" not in ops else "mixed"
    return "float32"


def describe_model(path: str | Path, labels: str | Path | None = None) -> dict[str, Any]:
    art = load_artifact(path, labels)
    edgetpu = EDGETPU_CUSTOM_OP in art.data
    out: dict[str, Any] = {
        "path": str(art.path), "name": art.name, "size_bytes": len(art.data), "edgetpu_compiled": edgetpu,
        "labels": list(art.labels) if art.labels else None, "labels_origin": art.labels_origin or None,
        "associated_files": list(art.files),
        "metadata": asdict(art.metadata) if art.metadata else None,
        "card": _card(art),
    }
    if edgetpu:  # cannot allocate without a TPU; report what the file itself says
        return out
    interp, info = make_interpreter(art.data, 1, None, str(art.path))
    ops = _ops(interp)
    out.update({
        "runtime": {"name": info.name, "version": info.version},
        "inputs": [_tensor(d) for d in interp.get_input_details()],
        "outputs": [_tensor(d) for d in interp.get_output_details()],
        "quantization": quantization_summary(interp),
        "ops": dict(sorted(Counter(ops).items())),
    })
    return out


def _card(art: Any) -> dict[str, Any] | None:
    if art.card is None:
        return None
    import json

    return json.loads(art.card.to_json())
