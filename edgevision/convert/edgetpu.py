"""Edge TPU readiness: does an int8 model meet the Edge TPU compiler's requirements? (no TensorFlow)

The rules and the op table follow Coral's "TensorFlow models on the Edge TPU" page
(coral.ai/docs/edgetpu/models-intro, section "Supported operations"): the model must be
fully 8-bit quantized, every tensor shape static (constant at compile time), tensors at
most 3-D apart from leading 1s, and only listed ops map to the TPU. The compiler maps ops
up to the first one it cannot map; that op and everything after it run on the CPU. This
check predicts that split; when ``edgetpu_compiler`` is installed, its own report wins.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from edgevision.runtime.inspect import op_table, plain_interpreter

# TFLite builtin op -> known limitation ("" when none), from Coral's supported-operations table.
SUPPORTED: dict[str, str] = {
    "ADD": "", "AVERAGE_POOL_2D": "no fused activation", "CONCATENATION": "no fused activation",
    "CONV_2D": "", "DEPTHWISE_CONV_2D": "", "EXPAND_DIMS": "", "FULLY_CONNECTED": "default weight format only",
    "L2_NORMALIZATION": "", "LOGISTIC": "", "LSTM": "unidirectional only", "MAXIMUM": "",
    "MAX_POOL_2D": "no fused activation", "MEAN": "no reduction over the batch dimension", "MINIMUM": "",
    "MUL": "", "PACK": "not along the batch dimension", "PAD": "not along the batch dimension", "PRELU": "",
    "QUANTIZE": "", "REDUCE_MAX": "not over the batch dimension", "REDUCE_MIN": "not over the batch dimension",
    "RELU": "", "RELU6": "", "RELU_N1_TO_1": "", "RESHAPE": "large reshapes may not map",
    "RESIZE_BILINEAR": "3-D input/output; may stay on CPU for precision",
    "RESIZE_NEAREST_NEIGHBOR": "3-D input/output; may stay on CPU for precision", "RSQRT": "", "SLICE": "",
    "SOFTMAX": "1-D input of at most 16,000 elements", "SPACE_TO_DEPTH": "", "SPLIT": "",
    "SQUEEZE": "only leading 1s", "STRIDED_SLICE": "", "SUB": "", "SUM": "", "SQUARED_DIFFERENCE": "",
    "TANH": "", "TRANSPOSE": "", "TRANSPOSE_CONV": "",
}
INTEGER_TYPES = ("int8", "uint8", "int32")  # int32: biases, shapes and indices
INSTALL_HINT = ("edgetpu_compiler is not installed: on an x86-64 Debian/Ubuntu machine add Coral's apt "
                "repository and `apt-get install edgetpu-compiler` (coral.ai/docs/edgetpu/compiler), or use "
                "Coral's Colab compiler; then rerun with --target edgetpu")


def _why_not(op: dict[str, Any], constants: set[int]) -> str:
    if op["op"] not in SUPPORTED:
        return "op not supported by the Edge TPU"
    for t in op["inputs"] + op["outputs"]:
        if t["dtype"] not in INTEGER_TYPES:
            return f"{t['dtype']} tensor (the Edge TPU computes in 8-bit integers only)"
        if any(d < 0 for d in t["shape"]):
            return f"dynamic shape {t['shape']}"
        if t["index"] not in constants and any(d != 1 for d in t["shape"][:-3]):  # weights may be 4-D
            return f"activation {t['shape']} has more than 3 non-trivial dimensions"
    if op["op"] == "SOFTMAX" and op["inputs"] and _elements(op["inputs"][0]["shape"]) > 16000:
        return "softmax over more than 16,000 elements"
    return ""


def _elements(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= max(d, 1)
    return n


def readiness(data: bytes) -> dict[str, Any]:
    """Per-op prediction of what maps to the Edge TPU, and whether the whole model does."""
    interp = plain_interpreter(data)
    ops = op_table(interp)
    produced = {t["index"] for op in ops for t in op["outputs"]} | {int(d["index"]) for d in interp.get_input_details()}
    constants = {t["index"] for op in ops for t in op["inputs"]} - produced
    rows: list[dict[str, Any]] = []
    blocked = ""
    for op in ops:
        reason = _why_not(op, constants)
        if reason and not blocked:
            blocked = f"{op['op']} (op {op['index']}): {reason}"
            status = "cpu"
        elif blocked:
            status, reason = "cpu", reason or "after the first op that cannot map"
        else:
            status = "tpu"
        rows.append({"index": op["index"], "op": op["op"], "maps": status == "tpu", "status": status,
                     "note": reason or SUPPORTED.get(op["op"], ""),
                     "output": op["outputs"][0]["name"] if op["outputs"] else ""})
    io_types = sorted({t["dtype"] for op in ops for t in op["inputs"] + op["outputs"]})
    static = all(d >= 0 for op in ops for t in op["inputs"] + op["outputs"] for d in t["shape"])
    mapped = sum(r["maps"] for r in rows)
    return {"ready": not blocked, "ops_total": len(rows), "ops_mapped": mapped,
            "fully_integer": all(t in INTEGER_TYPES for t in io_types), "static_shapes": static,
            "first_blocker": blocked or None, "ops": rows,
            "source": "coral.ai/docs/edgetpu/models-intro (supported operations)"}


def compile_model(model: Path, out_dir: Path, timeout_s: float = 300.0) -> dict[str, Any]:
    """Run ``edgetpu_compiler`` when installed; keep ``*_edgetpu.tflite`` and its op counts."""
    exe = shutil.which("edgetpu_compiler")
    if exe is None:
        return {"ran": False, "message": INSTALL_HINT}
    try:
        proc = subprocess.run([exe, "-s", "-o", str(out_dir), str(model)], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"ran": False, "message": f"edgetpu_compiler could not run: {exc}"}
    text = proc.stdout + proc.stderr
    compiled = out_dir / f"{model.stem}_edgetpu.tflite"
    result: dict[str, Any] = {"ran": True, "returncode": proc.returncode, "compiler": exe,
                              "path": str(compiled) if compiled.is_file() else None, **parse_report(text)}
    if proc.returncode != 0 or result["path"] is None:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        result["message"] = f"edgetpu_compiler failed: {lines[-1] if lines else 'no output'}"
    (out_dir / f"{model.stem}_edgetpu_compiler.log").write_text(text, encoding="utf-8")
    return result


def parse_report(text: str) -> dict[str, Any]:
    """What ``edgetpu_compiler -s`` says about a model: version, op counts and its per-operator table.

    The compiler prints "Number of operations that will run on Edge TPU/CPU" only when some
    operations stay on the CPU (after "not all operations are supported"); when every operation
    maps, it prints the total and a table where each row is "Mapped to Edge TPU".
    """
    total = _count(text, r"Total number of operations:\s*(\d+)")
    tpu = _count(text, r"operations that will run on Edge TPU:\s*(\d+)")
    cpu = _count(text, r"operations that will run on CPU:\s*(\d+)")
    if tpu is None and cpu is None and total is not None and "not all operations are supported" not in text:
        tpu, cpu = total, 0
    return {"version": _version(text), "subgraphs": _count(text, r"Number of Edge TPU subgraphs:\s*(\d+)"),
            "ops_total": total, "ops_on_tpu": tpu, "ops_on_cpu": cpu, "operators": _operator_table(text)}


def _operator_table(text: str) -> list[dict[str, Any]]:
    """Rows of the "Operator  Count  Status" table (an operator may appear once per status)."""
    _, header, rest = text.partition("Operator")
    if not header or not re.match(r"\s+Count\s+Status", rest):
        return []
    rows = []
    for line in rest.splitlines()[1:]:
        m = re.match(r"^([A-Z][A-Z0-9_]*)\s+(\d+)\s+(\S.*?)\s*$", line)
        if m:
            rows.append({"op": m.group(1), "count": int(m.group(2)), "status": m.group(3)})
    return rows


def _count(text: str, pattern: str) -> int | None:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def _version(text: str) -> str | None:
    m = re.search(r"Edge TPU Compiler version\s+([\w.]+)", text)
    return m.group(1) if m else None
