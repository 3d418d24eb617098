"""The hard case: activation outliers break plain int8; the repair brings it back within budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevision.runtime.inspect import op_table, plain_interpreter, quantization_summary

pytestmark = pytest.mark.tf


def test_outliers_break_int8_and_selective_repair_fixes_it(cli, outlier_run: Path, tmp_path: Path) -> None:
    out = cli("convert", outlier_run, "--max-drop", "1", "--out", tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    plain = r["variants"]["int8"]
    assert not plain["passed"] and plain["drop_points"] > 10, "the outlier must break plain int8"
    assert plain["superseded_by"] == "int8-mixed" == r["quant"]
    assert r["passed"] and r["drop_points"] <= 1.0
    mixed = r["variants"]["int8-mixed"]
    assert mixed["passed"] and Path(mixed["path"]).name.endswith("_int8-mixed.tflite")

    repair = r["repair"]
    assert repair["chosen"] == "int8-mixed" and repair["why_not"] is None
    assert repair["layer_errors"][0]["layer"].startswith("conv2"), "the debugger must point at the outlier layer"
    chosen = repair["strategies"][0]
    assert chosen["strategy"] == "selective" and chosen["passed"]
    kept = [x["layer"] for x in chosen["float_layers"]]
    assert any(k.startswith("conv2") for k in kept) and len(kept) <= 6
    assert repair["repair_set"]["source"] == "val"  # searched on val, judged on test

    data = Path(mixed["path"]).read_bytes()
    assert quantization_summary(plain_interpreter(data)) == "int8-mixed"
    float_outputs = {op["outputs"][0]["name"] for op in op_table(plain_interpreter(data))
                     if op["outputs"][0]["dtype"] == "float32" and op["op"] != "DEQUANTIZE"}
    assert float_outputs == {x["tensor"] for x in chosen["float_layers"]}, "exactly the reported layers are float"

    info = cli("info", mixed["path"])
    assert info.returncode == 0, info.stderr
    assert "quantization: int8-mixed" in info.stdout and "repaired (selective)" in info.stdout
    text = cli("convert", outlier_run, "--max-drop", "1", "--out", tmp_path / "again")
    assert text.returncode == 0 and "kept in float" in text.stdout and "cost of int8-mixed vs int8" in text.stdout


def test_without_repair_the_account_says_why(cli, outlier_run: Path, tmp_path: Path) -> None:
    out = cli("convert", outlier_run, "--max-drop", "1", "--no-repair", "--out", tmp_path, "--json")
    assert out.returncode == 1
    r = json.loads(out.stdout)
    assert not r["passed"] and r["quant"] == "int8" and r["drop_points"] > 10
    assert "no repair was attempted" in r["repair"]["why_not"]
    assert "exceeds the budget" in out.stderr and "Traceback" not in out.stderr


def test_int16_activations_as_a_repair(cli, outlier_run: Path, tmp_path: Path) -> None:
    policy = tmp_path / "int16.toml"
    policy.write_text('max_drop = 1.0\n[repair]\nstrategies = ["int16x8"]\n')
    out = cli("convert", outlier_run, "--policy", policy, "--out", tmp_path / "out", "--json")
    r = json.loads(out.stdout)
    entry = r["repair"]["strategies"][0]
    assert entry["strategy"] == "int16x8" and "int16x8" in r["variants"]
    data = Path(r["variants"]["int16x8"]["path"]).read_bytes()
    assert quantization_summary(plain_interpreter(data)) == "int16x8"
    acts = {t["dtype"] for op in op_table(plain_interpreter(data)) if op["op"] not in ("QUANTIZE", "DEQUANTIZE")
            for t in op["outputs"]}
    assert acts == {"int16"}
    assert out.returncode == (0 if entry["passed"] else 1)
    assert r["variants"]["int16x8"]["drop_points"] < r["variants"]["int8"]["drop_points"]


def test_an_op_without_16_bit_kernels_skips_int16x8_instead_of_failing_the_conversion() -> None:
    """MobileNetV3's HARD_SWISH has no int16x8 kernel: that strategy is skipped with the reason, nothing raises."""
    import keras
    import numpy as np

    from edgevision.convert.policy import RepairPolicy
    from edgevision.convert.repair import Evaluator, RepairSet, run_strategies

    inp = keras.Input((8, 8, 3))
    x = keras.layers.Activation("hard_swish")(keras.layers.Conv2D(4, 3)(inp))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))
    images = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 3)).astype(np.float32)
    labels = np.array([0, 1, 0, 1])
    evaluate = Evaluator(RepairSet(images, labels, "test"), labels, lambda data: pytest.fail("nothing to evaluate"))
    outcome, account = run_strategies(["int16x8"], model=model, calibrated=b"", calibration=images, io_type="uint8",
                                      evaluate=evaluate, policy=RepairPolicy(), budget=2.0,
                                      judge=lambda o: pytest.fail("nothing to judge"), on_status=lambda _: None)
    assert outcome is None and account["chosen"] is None
    [entry] = account["strategies"]
    assert entry["strategy"] == "int16x8" and entry["passed"] is False
    assert "HARD_SWISH" in entry["skipped"] and "\n" not in entry["skipped"]
