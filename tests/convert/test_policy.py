"""Quantization policies: by name or path, validated, overridable (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgevision.convert.policy import Policy, load_policy
from edgevision.errors import BadInput


def test_shipped_policies_load_by_name() -> None:
    default, strict, tpu = load_policy(None), load_policy("strict"), load_policy("edgetpu")
    assert default.name == "default" and default.quant == "int8" and default.max_drop == 1.0
    assert default.repair.strategies == ("selective", "int16x8")
    assert strict.max_drop < default.max_drop and strict.calibration_size > default.calibration_size
    assert tpu.targets == ("edgetpu",) and tpu.repair.strategies == ()


def test_policy_by_path_and_overrides(tmp_path: Path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text('max_drop = 2.5\nformats = ["tflite", "onnx"]\n[repair]\nstrategies = ["int16x8"]\n')
    pol = load_policy(p)
    assert pol.name == "mine" and pol.max_drop == 2.5 and pol.formats == ("tflite", "onnx")
    assert pol.repair.strategies == ("int16x8",)
    assert pol.override(max_drop=None, io="int8").io == "int8"
    assert pol.to_dict()["repair"]["strategies"] == ["int16x8"]


@pytest.mark.parametrize(("text", "message"), [
    ("budget = 1\n", "unknown policy key(s): budget"),
    ('quant = "int4"\n', "quant 'int4' unknown"),
    ('targets = ["hexagon"]\n', "targets 'hexagon' unknown"),
    ("max_drop = -1\n", "must be >= 0"),
    ('[repair]\nstrategies = ["prayer"]\n', "repair strategy 'prayer' unknown"),
    ("[repair]\nmax_trials = -3\n", "must be >= 0"),
    ("max_drop = = 1\n", "not valid TOML"),
])
def test_bad_policies_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(BadInput, match=None) as exc:
        load_policy(p)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_policy_name_names_where_it_looked() -> None:
    with pytest.raises(BadInput, match="policy 'nope' not found"):
        load_policy("nope")
    assert Policy().repair.max_float_layers > 0
