"""--quant all side by side, and the ONNX export verified with onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevision.runtime.inspect import plain_interpreter, quantization_summary

pytestmark = pytest.mark.tf


def test_all_modes_and_onnx(cli, trained, tmp_path: Path) -> None:
    out = cli("convert", trained.run, "--quant", "all", "--format", "onnx", "--max-drop", "100",
              "--out", tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert set(r["variants"]) == {"float32", "int8", "float16", "dynamic"}
    for name, v in r["variants"].items():
        assert quantization_summary(plain_interpreter(Path(v["path"]).read_bytes())) == name
        assert v["latency_ms"] > 0 and v["size_bytes"] > v["model_bytes"] > 0
    sizes = {k: v["model_bytes"] for k, v in r["variants"].items()}
    assert sizes["int8"] < 0.35 * sizes["float32"] and sizes["float16"] < 0.6 * sizes["float32"]
    assert r["edgetpu"]["ready"] and "not requested" in r["edgetpu"]["compiler"]["message"]

    onnx = r["onnx"]
    assert Path(onnx["path"]).is_file() and onnx["images"] == r["images"]
    assert onnx["agreement"] == 1.0 and onnx["max_abs_score_diff"] < 1e-3
    import onnx as onnx_lib

    props = {p.key: p.value for p in onnx_lib.load(onnx["path"]).metadata_props}
    assert props["labels"].split("\n") == (trained.run / "labels.txt").read_text().split()
    assert json.loads(props["edgevision.json"])["quantization"] == "float32"


def test_edgetpu_policy_reports_readiness(cli, trained, tmp_path: Path) -> None:
    out = cli("convert", trained.run, "--policy", "edgetpu", "--max-drop", "100", "--out", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Edge TPU: ready" in out.stdout and "edgetpu_compiler is not installed" in out.stdout
