"""Finding and driving Sony's IMX500 toolchain, which lives in its own venv (files in, files out).

Model Compression Toolkit and ``imxconv-tf`` need Python 3.11, TensorFlow 2.14-2.15 and
numpy<2, so they cannot share edgevision's TensorFlow 2.21 / Keras 3 environment. The
toolchain's python runs ``worker.py`` (by path: nothing is imported across venvs); this
module writes the job, runs it with a progress spinner, and turns the result into either a
dict or one clear error naming the layer or the memory that does not fit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.convert.imx500.setup import COMMAND, managed_python
from edgevision.errors import BadInput, CheckFailed

ENV_VAR = "EDGEVISION_IMX500_PYTHON"
VENV_DIR = ".venv-imx500"
INSTALL_HINT = ("--target imx500 needs Sony's IMX500 toolchain (edge-mdt[tf] on TensorFlow 2.15) in its own Python "
                f"3.11 venv: run `{COMMAND}` (sets it up once, about 1 GB from PyPI; `make imx500-venv` in a source "
                f"checkout), or point {ENV_VAR} at such a venv's python")
WORKER = Path(__file__).with_name("worker.py")
TIMEOUT_S = 3600


class ToolchainMissing(BadInput):
    """The IMX500 toolchain venv is not installed (exit 2, one line saying what to install)."""


@dataclass(frozen=True)
class Toolchain:
    python: Path

    @property
    def imxconv(self) -> Path:
        return self.python.with_name("imxconv-tf")


def _candidates() -> list[Path]:
    """$EDGEVISION_IMX500_PYTHON, else the venv ``edgevision toolchain install imx500`` made, else a checkout's."""
    if os.environ.get(ENV_VAR):
        return [Path(os.environ[ENV_VAR])]
    here = Path(__file__).resolve()
    roots = [Path.cwd(), *here.parents]
    return [managed_python(), *(r / VENV_DIR / "bin" / "python" for r in dict.fromkeys(roots))]


def find_toolchain() -> Toolchain:
    """The toolchain venv's python with ``imxconv-tf`` beside it, or ToolchainMissing."""
    for py in _candidates():
        if py.is_file() and py.with_name("imxconv-tf").is_file():
            if shutil.which("java") is None:  # imxconv's back end (sdspconv) is a JVM program
                raise ToolchainMissing("--target imx500: imxconv-tf needs Java: sudo apt install "
                                       "openjdk-17-jre-headless")
            return Toolchain(py)
    if os.environ.get(ENV_VAR):
        raise ToolchainMissing(f"{ENV_VAR}={os.environ[ENV_VAR]}: no imxconv-tf beside that python; {INSTALL_HINT}")
    raise ToolchainMissing(INSTALL_HINT)


class ConversionRefused(CheckFailed):
    """imxconv / MCT refused the model: a layer the IMX500 cannot run, or a network that does not fit."""

    exit_code = 2


def _account(result: dict[str, Any]) -> str:
    kind = result.get("kind", "toolchain")
    if kind == "memory":
        mem = summarize_memory(result.get("memory"))
        return (f"the network does not fit the IMX500's memory ({mem.get('used_kb', '?')} KB needed of "
                f"{mem.get('total_kb', '?')} KB); make it smaller (fewer filters, a smaller input or dense layer)")
    if kind == "unsupported":
        bad = result.get("layers", [])
        layers = ", ".join(x.get("text") or (f"layer {x['name']} ({x.get('op')})" if x.get("name") else x.get("op", ""))
                           for x in bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        return (f"unsupported by the IMX500 converter: {layers or result.get('error')}; "
                "replace or remove it (an input normalization is moved to the sensor only when it is the first layer)")
    return str(result.get("error", "the IMX500 toolchain failed"))


def run_worker(tc: Toolchain, job: dict[str, Any], folder: Path, console: Any = None) -> dict[str, Any]:
    job_path = folder / "job.json"
    job_path.write_text(json.dumps(job, indent=1), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    cmd = [str(tc.python), str(WORKER), str(job_path)]
    log = folder / "worker.log"
    with log.open("w", encoding="utf-8") as fh:
        status = console.status("IMX500 toolchain: MCT post-training quantization, imxconv-tf") if console else None
        try:
            if status:
                status.__enter__()
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"IMX500 toolchain did not finish within {TIMEOUT_S} s (log: {log})") from None
        finally:
            if status:
                status.__exit__(None, None, None)
    result_path = folder / "result.json"
    if not result_path.is_file():
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise CheckFailed(f"IMX500 toolchain crashed (exit {proc.returncode}): {tail[0][:300]} (log: {log})")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    if not result.get("ok"):
        err = ConversionRefused(f"imx500: {_account(result)} (log: {folder})")
        err.result = result  # type: ignore[attr-defined]
        raise err
    return result


def write_arrays(folder: Path, **arrays: np.ndarray) -> dict[str, str]:
    paths = {}
    for name, arr in arrays.items():
        p = folder / f"{name}.npy"
        np.save(p, arr)
        paths[name] = str(p)
    return paths


_UNITS = {"b": 1 / 1024, "kb": 1.0, "k": 1.0, "mb": 1024.0, "m": 1024.0, "gb": 1024.0 ** 2}


def _kb(v: Any) -> float | None:
    """'199.59KB', '8.00MB', '1024 B' -> KB."""
    m = re.match(r"\s*([0-9.]+)\s*([kmg]?b?|[kmg])\s*$", str(v), re.IGNORECASE)
    if not m:
        return None
    return round(float(m.group(1)) * _UNITS.get(m.group(2).lower() or "b", 1.0), 3)


def summarize_memory(report: Any) -> dict[str, Any]:
    """The numbers that matter from imxconv's ``*_MemoryReport.json``: fits, used and available KB."""
    if not isinstance(report, dict):
        return {}
    body = report.get("Memory Report", report)
    out: dict[str, Any] = {"fits": body.get("Fit In Chip"),
                           "used_kb": _kb(body.get("Memory Usage")),
                           "total_kb": _kb(body.get("Total Memory Available On Chip")),
                           "model_kb": _kb(body.get("Model Memory Physical Size")),
                           "runtime_kb": _kb(body.get("Runtime Memory Physical Size")),
                           "input_persistent": body.get("Input Persistent")}
    if isinstance(out["fits"], str):
        out["fits"] = out["fits"].strip().lower() == "true"
    if out["used_kb"] and out["total_kb"]:
        out["used_fraction"] = round(out["used_kb"] / out["total_kb"], 4)
    out = {k: v for k, v in out.items() if v is not None}
    out["raw"] = report
    return out


def tensor_quantization(dnn_params: str | Path | None, tag: str = "inputTensor") -> dict[str, Any]:
    """A tensor's quantization from imxconv's dnnParams.xml (``inputTensor``: what the sensor must feed the
    network; ``outputTensor``: how its raw output is scaled)."""
    import xml.etree.ElementTree as ET

    if not dnn_params or not Path(dnn_params).is_file():
        return {}
    try:
        node = ET.parse(dnn_params).getroot().find(f".//{tag}")
    except ET.ParseError:
        return {}
    if node is None:
        return {}
    a = node.attrib
    dims = [int(d.attrib.get("size", 0)) for d in node.findall("./dimensions/dimension")]
    return {"name": a.get("name", ""), "scale": float(a.get("scale", 0) or 0), "shift": int(a.get("shift", 0) or 0),
            "format": a.get("format", ""), "bits": int(a.get("bitsPerElement", 8) or 8), "dimensions": dims}


def job_for(folder: Path, graph: Any, mean: Sequence[float], std: Sequence[float], arrays: dict[str, str],
            tpc: str = "v1") -> dict[str, Any]:
    return {"out": str(folder), "graph": str(graph.graph_path), "weights": str(graph.weights_path),
            "mean": list(mean), "std": list(std), "tpc": tpc, **arrays}
