"""Edge TPU readiness from the ops, and the edgetpu_compiler hand-off (no TensorFlow at run time)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgevision.convert.edgetpu import INSTALL_HINT, SUPPORTED, compile_model, parse_report, readiness

# What edgetpu_compiler prints, as published in Coral's issue tracker (the compiler comes from Coral's own apt
# repository and cannot be installed here). Verbatim but for blank lines; tables end where the published
# excerpt does.
# All operations mapped (compiler 16.0.384591198), posted with its log at
# https://github.com/eehoeskrap/PaperReview/issues/15 : no "will run on CPU" lines are printed then.
ALL_MAPPED = """Edge TPU Compiler version 16.0.384591198
Searching for valid delegate with step 1
Try to compile segment with 139 ops
Started a compilation timeout timer of 3600 seconds.

Model compiled successfully in 1242 ms.

Input model: saved_model/model_full_integer_quant.tflite
Input size: 3.95MiB
Output model: saved_model/model_full_integer_quant_edgetpu.tflite
Output size: 4.50MiB
On-chip memory used for caching model parameters: 3.99MiB
On-chip memory remaining for caching model parameters: 3.64MiB
Off-chip memory used for streaming uncached model parameters: 309.75KiB
Number of Edge TPU subgraphs: 1
Total number of operations: 139
Operation log: saved_model/model_full_integer_quant_edgetpu.log

Operator                       Count      Status

CONV_2D                        42         Mapped to Edge TPU
QUANTIZE                       2          Mapped to Edge TPU
ADD                            10         Mapped to Edge TPU
PRELU                          41         Mapped to Edge TPU
CONCATENATION                  3          Mapped to Edge TPU
PAD                            21         Mapped to Edge TPU
DEPTHWISE_CONV_2D              17         Mapped to Edge TPU
"""
# Some operations left on the CPU (compiler 2.1.302470888), posted by a Coral engineer in
# https://github.com/google-coral/edgetpu/issues/60
PARTLY_MAPPED = """Edge TPU Compiler version 2.1.302470888

Model compiled successfully in 12264 ms.

Input model: model2.tflite
Input size: 8.11MiB
Output model: model2_edgetpu.tflite
Output size: 9.47MiB
On-chip memory used for caching model parameters: 6.86MiB
On-chip memory remaining for caching model parameters: 7.75KiB
Off-chip memory used for streaming uncached model parameters: 1.22MiB
Number of Edge TPU subgraphs: 1
Total number of operations: 93
Operation log: model2_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of the model will \
instead run on the CPU, which is slower. If possible, consider updating your model to use only operations supported \
by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 83
Number of operations that will run on CPU: 10

Operator                       Count      Status

LOGISTIC                       1          More than one subgraph is not supported
ADD                            10         Mapped to Edge TPU
CONCATENATION                  1          More than one subgraph is not supported
CONCATENATION                  3          Mapped to Edge TPU
"""

# A thin stand-in for the compiler binary: the real CLI's `-s -o OUTDIR MODEL`, it writes MODEL_edgetpu.tflite
# and prints the published transcript given in $TRANSCRIPT. Only our hand-off and parsing are tested.
FAKE_COMPILER = """#!/bin/sh
out="$3"; model="$4"; base=$(basename "$model" .tflite)
cp "$model" "$out/${base}_edgetpu.tflite"
cat "$TRANSCRIPT"
"""


def test_report_of_a_fully_mapped_model() -> None:
    r = parse_report(ALL_MAPPED)
    assert r["version"] == "16.0.384591198" and r["subgraphs"] == 1
    assert r["ops_total"] == r["ops_on_tpu"] == 139 and r["ops_on_cpu"] == 0
    assert [(o["op"], o["count"]) for o in r["operators"]][:2] == [("CONV_2D", 42), ("QUANTIZE", 2)]
    assert len(r["operators"]) == 7 and {o["status"] for o in r["operators"]} == {"Mapped to Edge TPU"}


def test_report_of_a_partly_mapped_model() -> None:
    r = parse_report(PARTLY_MAPPED)
    assert r["version"] == "2.1.302470888" and r["ops_total"] == 93
    assert r["ops_on_tpu"] == 83 and r["ops_on_cpu"] == 10
    assert r["operators"][0] == {"op": "LOGISTIC", "count": 1, "status": "More than one subgraph is not supported"}
    assert [o["op"] for o in r["operators"]].count("CONCATENATION") == 2  # once per status


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
    (tmp_path / "transcript.txt").write_text(ALL_MAPPED)
    monkeypatch.setenv("TRANSCRIPT", str(tmp_path / "transcript.txt"))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    out.mkdir()
    result = compile_model(trained.int8, out)
    assert result["ran"] and result["returncode"] == 0 and result["version"] == "16.0.384591198"
    assert result["ops_on_tpu"] == 139 and result["ops_on_cpu"] == 0
    assert Path(result["path"]).name == f"{trained.int8.stem}_edgetpu.tflite" and Path(result["path"]).is_file()
    assert (out / f"{trained.int8.stem}_edgetpu_compiler.log").read_text() == ALL_MAPPED


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX", "QUANTIZE"])
def test_supported_table_covers_the_classifier_ops(op: str) -> None:
    assert op in SUPPORTED and "DEQUANTIZE" not in SUPPORTED
