"""Everything a model file says about itself, for ``edgevision info`` (no TensorFlow needed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BadInput
from edgevision.model.artifact import load_artifact
from edgevision.model.opcodes import is_edgetpu_model
from edgevision.runtime.interpreter import make_interpreter

FLOAT_TYPES = {"float32", "float16"}


def _tensor(d: dict[str, Any]) -> dict[str, Any]:
    scale, zp = d.get("quantization", (0.0, 0))
    return {"name": d["name"], "shape": [int(v) for v in d["shape"]],
            "shape_signature": [int(v) for v in d.get("shape_signature", d["shape"])],
            "dtype": np.dtype(d["dtype"]).name, "scale": float(scale), "zero_point": int(zp)}


# Ops that only move between number formats; every other op computes.
CAST_OPS = {"QUANTIZE", "DEQUANTIZE"}
# Pseudo-ops an interpreter adds when a delegate (XNNPACK) takes over part of the graph.
PSEUDO_OPS = {"DELEGATE"}


def _ops(interp: Any) -> list[str]:
    try:
        return [op["op_name"] for op in interp._get_ops_details() if op["op_name"] not in PSEUDO_OPS]
    except (AttributeError, KeyError, RuntimeError):
        return []


def plain_interpreter(data: bytes) -> Any:
    """An interpreter without default delegates, so op details show the model's own ops."""
    from edgevision.runtime.interpreter import interpreter_module

    mod, _, _ = interpreter_module()
    resolver = getattr(getattr(mod, "OpResolverType", None), "BUILTIN_WITHOUT_DEFAULT_DELEGATES", None)
    kwargs: dict[str, Any] = {"experimental_op_resolver_type": resolver} if resolver is not None else {}
    interp = mod.Interpreter(model_content=data, **kwargs)
    interp.allocate_tensors()
    return interp


def op_table(interp: Any) -> list[dict[str, Any]]:
    """Every op with the dtype and name of each input and output tensor (optional inputs skipped)."""
    tensors = {int(d["index"]): d for d in interp.get_tensor_details()}

    def side(indices: Any) -> list[dict[str, Any]]:
        out = []
        for i in indices:
            d = tensors.get(int(i))
            if d is not None:
                out.append({"index": int(i), "name": d["name"], "dtype": np.dtype(d["dtype"]).name,
                            "shape": [int(v) for v in d.get("shape_signature", d["shape"])]})
        return out

    try:
        details = interp._get_ops_details()
    except (AttributeError, RuntimeError):
        return []
    return [{"index": int(op["index"]), "op": op["op_name"], "inputs": side(op["inputs"]),
             "outputs": side(op["outputs"])} for op in details if op["op_name"] not in PSEUDO_OPS]


def float_compute_ops(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ops that compute in floating point (anything but QUANTIZE/DEQUANTIZE with a float output)."""
    return [op for op in ops if op["op"] not in CAST_OPS
            and any(t["dtype"] in FLOAT_TYPES for t in op["outputs"])]


def non_integer_tensors(ops: list[dict[str, Any]]) -> list[str]:
    """Names of op inputs/outputs (weights included) that are not integers: empty for a true int8 model."""
    bad = {t["name"]: t["dtype"] for op in ops for t in op["inputs"] + op["outputs"]
           if not t["dtype"].startswith(("int", "uint"))}
    return [f"{name} ({dtype})" for name, dtype in bad.items()]


def quantization_summary(interp: Any) -> str:
    """What the model really computes in: int8, int8-mixed, int16x8, float16, dynamic or float32.

    Judged from the ops and tensor types, never from the file name: "int8" means integer
    weights, activations and I/O end to end; a model that keeps some layers in float is
    "int8-mixed"; 16-bit activations with 8-bit weights is "int16x8".
    """
    ops = op_table(interp)
    types = Counter(t["dtype"] for op in ops for t in op["inputs"] + op["outputs"])
    floats = float_compute_ops(ops)
    int_acts = [op for op in ops if op["op"] not in CAST_OPS and any(t["dtype"] in ("int8", "uint8")
                                                                       for t in op["outputs"])]
    int16_acts = [op for op in ops if op["op"] not in CAST_OPS and any(t["dtype"] == "int16" for t in op["outputs"])]
    if int16_acts and not floats:
        return "int16x8"
    if int_acts and not floats:
        return "int8" if not non_integer_tensors(ops) else "int8 (float I/O)"
    if int_acts and floats:
        return "int8-mixed"
    if types.get("float16"):
        return "float16"
    if floats and (types.get("int8") or types.get("uint8")):
        return "dynamic"
    return "float32"


def quantization_facts(ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Op-level evidence for the quantization label: which ops compute in float, tensor types."""
    floats = float_compute_ops(ops)
    return {
        "tensor_types": dict(sorted(Counter(t["dtype"] for op in ops for t in op["inputs"] + op["outputs"]).items())),
        "float_ops": [{"op": op["op"], "output": op["outputs"][0]["name"] if op["outputs"] else ""} for op in floats],
        "integer_only": not non_integer_tensors(ops),
    }


def describe_model(path: str | Path, labels: str | Path | None = None) -> dict[str, Any]:
    art = load_artifact(path, labels)
    edgetpu = is_edgetpu_model(art.data)
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
    plain = plain_interpreter(art.data)
    try:
        _describe_graph(out, interp, info, plain)
    except UnicodeDecodeError:  # the interpreter loads it, but its tensor names are garbage
        raise BadInput(f"{art.path}: TFLite model is corrupt (tensor names are not valid UTF-8)") from None
    return out


def _describe_graph(out: dict[str, Any], interp: Any, info: Any, plain: Any) -> None:
    out.update({
        "runtime": {"name": info.name, "version": info.version},
        "inputs": [_tensor(d) for d in interp.get_input_details()],
        "outputs": [_tensor(d) for d in interp.get_output_details()],
        "quantization": quantization_summary(plain),
        "ops": dict(sorted(Counter(_ops(plain)).items())),
        "quantization_facts": quantization_facts(op_table(plain)),
    })


def _card(art: Any) -> dict[str, Any] | None:
    if art.card is None:
        return None
    import json

    return json.loads(art.card.to_json())
