"""Runs INSIDE the IMX500 toolchain venv (Python 3.11, TensorFlow 2.15, MCT, imxconv-tf): never imported.

``python worker.py JOB.json`` reads a job written by ``edgevision.convert.imx500.toolchain``
(the flattened float model, calibration and held-out pixels as .npy), and writes
``result.json`` next to it. It imports nothing from edgevision: the two venvs share files,
never objects. Steps: rebuild the model in tf.keras 2, prove it equals the Keras 3 original
on probe images, MCT post-training quantization with the IMX500 target platform
capabilities, export, ``imxconv-tf`` -> packerOut.zip + memory report, and the predictions of
the float and the MCT-quantized model on the held-out images (for the accuracy gate).
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MAX_PROBE_DIFF = 2e-3
KERAS3_ONLY = {"quantization_config", "lora_rank", "lora_alpha"}  # float scores of the rebuilt model vs the original


class JobError(Exception):
    """A failure to report in result.json as {"error": ..., "kind": ...}."""

    def __init__(self, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.kind, self.extra = kind, extra


def _layer(tf: Any, rec: dict[str, Any]) -> Any:
    """Deserialize one layer; config keys tf.keras 2 does not know are dropped one by one."""
    cfg = {k: v for k, v in rec["config"].items() if k not in KERAS3_ONLY}
    for _ in range(12):
        try:
            return tf.keras.layers.deserialize({"class_name": rec["class_name"], "config": cfg})
        except TypeError as exc:
            keys = [k for k in re.findall(r"'(\w+)'", str(exc).split("Unrecognized keyword arguments", 1)[-1])
                    if k in cfg and k != "name"]
            if not keys:
                raise
            for k in keys:
                cfg.pop(k)
        except ValueError as exc:
            if "Unknown layer" in str(exc):
                raise JobError("unsupported", f"layer {rec['name']} ({rec['class_name']}) has no TensorFlow 2.15 "
                                              "equivalent the IMX500 converter could take",
                               layers=[{"name": rec["name"], "op": rec["class_name"]}]) from None
            raise
    raise JobError("rebuild", f"layer {rec['name']} ({rec['class_name']}): config not understood")


def rebuild(tf: Any, np: Any, graph_path: str, weights_path: str) -> Any:
    graph = json.loads(Path(graph_path).read_text(encoding="utf-8"))
    weights = np.load(weights_path)
    inp = tf.keras.Input(tuple(graph["input_shape"]), name="input")
    tensors: dict[str, Any] = {"input": inp}
    for rec in graph["layers"]:
        layer = _layer(tf, rec)
        xs = [tensors[i] for i in rec["inputs"]]
        out = layer(xs[0] if len(xs) == 1 else xs)
        if isinstance(out, (list, tuple)):
            for k, o in enumerate(out):
                tensors[f"{rec['name']}:{k}"] = o
        else:
            tensors[rec["name"]] = out
        if rec["weights"]:
            try:
                layer.set_weights([weights[f"{rec['name']}:{j}"] for j in range(rec["weights"])])
            except ValueError as exc:
                raise JobError("rebuild", f"layer {rec['name']} ({rec['class_name']}): weights do not fit "
                                          f"({str(exc).splitlines()[0][:160]})") from None
    outs = [tensors[o] for o in graph["outputs"]]
    return tf.keras.Model(inp, outs[0] if len(outs) == 1 else outs, name=graph.get("name") or "model")


def normalized(np: Any, pixels: Any, mean: list[float], std: list[float]) -> Any:
    return (pixels.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def predict(model: Any, np: Any, x: Any, batch: int = 32) -> Any:
    outs = [np.asarray(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)]
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


_USOP = re.compile(r"unsupported ops?:\s*(.*?)\s*(\[[^\]]*\])?\s*$", re.IGNORECASE)


def unsupported_ops(text: str) -> list[str]:
    """Op class names from imxconv's ``[USOP] The network contains unsupported ops: a.b.Type, ...`` lines."""
    ops: list[str] = []
    for line in text.splitlines():
        m = _USOP.search(line) if "USOP" in line else None
        if m:
            ops += [item.strip().rsplit(".", 1)[-1] for item in m.group(1).split(",") if item.strip()]
    return list(dict.fromkeys(ops))


def _unsupported(text: str, layers: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each layer of the model whose op imxconv refused (the op alone if no layer has it)."""
    found = []
    for op in unsupported_ops(text):
        named = [ly for ly in layers if ly["op"] == op]
        found += [{"name": ly["name"], "op": op} for ly in named] or [{"name": "", "op": op}]
    return found


def imxconv(out: Path, qpath: Path, layers: list[dict[str, str]]) -> dict[str, Any]:
    exe = str(Path(sys.executable).with_name("imxconv-tf"))
    conv_out = out / "imxconv"
    cmd = [exe, "-i", str(qpath), "-o", str(conv_out), "--overwrite-output"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    text = proc.stdout + "\n" + proc.stderr
    (out / "imxconv.log").write_text(text, encoding="utf-8")
    reports = sorted(glob.glob(str(conv_out / "*MemoryReport*.json")))
    memory = json.loads(Path(reports[0]).read_text(encoding="utf-8")) if reports else None
    packer = conv_out / "packerOut.zip"
    if proc.returncode != 0 or not packer.is_file():
        unsupported = _unsupported(text, layers)
        kind = "unsupported" if unsupported else ("memory" if memory and not _fits(memory) else "imxconv")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        err = next((ln for ln in lines if "USOP" in ln or "rror" in ln), lines[-1] if lines else "no output")
        raise JobError(kind, f"imxconv-tf failed (exit {proc.returncode}): {err[:400]}", layers=unsupported,
                       memory=memory)
    return {"packer": str(packer), "memory": memory, "dnn_params": str(conv_out / "dnnParams.xml"),
            "log": str(out / "imxconv.log"), "memory_report": reports[0] if reports else None}


def _fits(memory: dict[str, Any]) -> bool:
    for k, v in _walk(memory):
        if k.replace(" ", "").lower() == "fitinchip":
            return bool(v)
    return True


def _walk(d: Any) -> Any:
    if isinstance(d, dict):
        for k, v in d.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(d, list):
        for v in d:
            yield from _walk(v)


def run(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    out = Path(job["out"])
    mean, std = job["mean"], job["std"]
    model = rebuild(tf, np, job["graph"], job["weights"])
    probe = normalized(np, np.load(job["probe"]), mean, std)
    diff = float(np.max(np.abs(predict(model, np, probe) - np.load(job["probe_expected"])))) if len(probe) else 0.0
    if diff > MAX_PROBE_DIFF:
        raise JobError("rebuild", f"the model rebuilt in TensorFlow 2.15 differs from the Keras model by {diff:.4f} "
                                  "on probe images")
    import model_compression_toolkit as mct

    calib = normalized(np, np.load(job["calibration"]), mean, std)
    batch = max(1, min(int(job.get("batch", 16)), len(calib)))

    def representative() -> Any:
        for i in range(0, len(calib), batch):
            yield [calib[i:i + batch]]

    tpc = mct.get_target_platform_capabilities("tensorflow", "imx500", target_platform_version=job.get("tpc", "v1"))
    try:
        qmodel, _ = mct.ptq.keras_post_training_quantization(model, representative,
                                                              target_platform_capabilities=tpc)
    except Exception as exc:  # noqa: BLE001 - MCT raises plain Exceptions for unsupported layers
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
        raise JobError("unsupported", f"Model Compression Toolkit cannot quantize the model: {first}",
                       layers=[{"text": first}]) from None
    qpath = out / "quantized.keras"
    mct.exporter.keras_export_model(model=qmodel, save_model_path=str(qpath))
    result: dict[str, Any] = {"probe_max_diff": diff, "quantized_model": str(qpath), "tpc": job.get("tpc", "v1"),
                              "mct": getattr(mct, "__version__", ""), "tensorflow": tf.__version__,
                              "layers": [{"name": ly.name, "op": type(ly).__name__} for ly in model.layers[1:]]}
    result.update(imxconv(out, qpath, result["layers"]))
    held = normalized(np, np.load(job["heldout"]), mean, std)
    np.save(out / "float_scores.npy", predict(model, np, held).astype(np.float32))
    np.save(out / "quant_scores.npy", predict(qmodel, np, held).astype(np.float32))
    result["float_scores"], result["quant_scores"] = str(out / "float_scores.npy"), str(out / "quant_scores.npy")
    return result


def main(argv: list[str]) -> int:
    job_path = Path(argv[1])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    result_path = Path(job["out"]) / "result.json"
    try:
        result = {"ok": True, **run(job)}
    except JobError as exc:
        result = {"ok": False, "kind": exc.kind, "error": str(exc), **exc.extra}
    except Exception as exc:  # noqa: BLE001 - everything else goes back as one line plus the trace in a file
        (Path(job["out"]) / "worker-traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
        result = {"ok": False, "kind": "toolchain", "error": f"{type(exc).__name__}: {first}"}
    result_path.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
