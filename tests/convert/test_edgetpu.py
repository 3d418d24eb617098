"""Edge TPU readiness from the ops, and the edgetpu_compiler hand-off (no TensorFlow at run time)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgevision.convert.edgetpu import INSTALL_HINT, SUPPORTED, compile_model, readiness

# A stand-in for Coral's edgetpu_compiler, which cannot be installed here (it comes from Coral's
# own apt repository). It mimics the real CLI: `-s -o OUTDIR MODEL`, writes MODEL_edgetpu.tflite
# and prints the summary lines the real compiler prints. Only our hand-off and parsing are tested.
FAKE_COMPILER = """#!/bin/sh
out="$3"; model="$4"; base=$(basename "$model" .tflite)
cp "$model" "$out/${base}_edgetpu.tflite"
echo "Edge TPU Compiler version 16.0.384591198"
echo "Model compiled successfully in 12 ms."
echo "Number of Edge TPU subgraphs: 1"
echo "Total number of operations: 12"
echo "Number of operations that will run on Edge TPU: 12"
echo "Number of operations that will run on CPU: 0"
echo "Compilation succeeded!"
"""


def test_int8_model_is_ready_op_by_op(trained) -> None:
    r = readiness(trained.int8.read_bytes())
    assert r["ready"] and r["fully_integer"] and r["static_shapes"] and r["first_blocker"] is None
    assert r["ops_mapped"] == r["ops_total"] == len(r["ops"]) > 5
    assert {row["op"] for row in r["ops"]} >= {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"}
    assert all(row["op"] in SUPPORTED for row in r["ops"])


def test_float_model_is_not_ready_and_says_why(trained) -> None:
    r = readiness(trained.float32.read_bytes())
    assert not r["ready"] and not r["fully_integer"] and r["ops_mapped"] == 0
    assert "float32 tensor" in r["first_blocker"]
    assert all(row["status"] == "cpu" for row in r["ops"])


def test_compiler_missing_gives_install_hint(trained, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = compile_model(trained.int8, tmp_path)
    assert result == {"ran": False, "message": INSTALL_HINT} and "apt-get install edgetpu-compiler" in INSTALL_HINT


def test_compiler_output_is_kept_and_parsed(trained, tmp_path: Path, monkeypatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "edgetpu_compiler"
    exe.write_text(FAKE_COMPILER)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    out.mkdir()
    result = compile_model(trained.int8, out)
    assert result["ran"] and result["returncode"] == 0 and result["version"] == "16.0.384591198"
    assert result["ops_on_tpu"] == 12 and result["ops_on_cpu"] == 0
    assert Path(result["path"]).name == f"{trained.int8.stem}_edgetpu.tflite" and Path(result["path"]).is_file()


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "QUANTIZE"])
def test_supported_table_covers_the_classifier_ops(op: str) -> None:
    assert op in SUPPORTED and "DEQUANTIZE" not in SUPPORTED
