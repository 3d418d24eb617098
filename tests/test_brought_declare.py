"""Preprocessing and labels of a brought model are declared, never guessed (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgevision.convert.frontends import sniff
from edgevision.convert.frontends.declare import IMAGENET, Declared, decide_spec, parse_norm, parse_size
from edgevision.convert.frontends.judging_data import model_labels
from edgevision.errors import BadInput
from tests.conftest import Cli


def test_teachable_machine_preset() -> None:
    spec, how = decide_spec("m.h5", (224, 224), 3, None, Declared(preset="teachable-machine"))
    assert (spec.mean, spec.std, spec.crop, spec.size) == ((127.5,), (127.5,), "center", (224, 224))
    assert how["norm"].startswith("--preset teachable-machine")


def test_nothing_declared_is_refused() -> None:
    with pytest.raises(BadInput, match="nothing declares the input normalization"):
        decide_spec("m.onnx", (64, 64), 3, None, Declared())


def test_model_declaration_wins_and_contradiction_is_refused() -> None:
    raw = ((0.0,), (1.0,), "Rescaling layer inside the model")
    spec, how = decide_spec("m.keras", (32, 32), 3, raw, Declared(crop="center"))
    assert (spec.mean, spec.std, spec.crop) == ((0.0,), (1.0,), "center") and "Rescaling" in how["norm"]
    with pytest.raises(BadInput, match="normalize twice"):
        decide_spec("m.keras", (32, 32), 3, raw, Declared(norm="imagenet"))


def test_norm_forms() -> None:
    assert parse_norm("imagenet") == IMAGENET
    assert parse_norm("127.5,127.5") == ((127.5,), (127.5,))
    assert parse_norm("1,2,3,4,5,6") == ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    with pytest.raises(BadInput, match="--norm"):
        parse_norm("zscore")


def test_dynamic_size_needs_size() -> None:
    with pytest.raises(BadInput, match="--size"):
        decide_spec("m.onnx", (None, None), 3, None, Declared(norm="unit"))
    spec, _ = decide_spec("m.onnx", (None, None), 3, None, Declared(norm="unit", size=parse_size("96x64")))
    assert spec.size == (96, 64)
    with pytest.raises(BadInput, match="contradicts"):
        decide_spec("m.onnx", (32, 32), 3, None, Declared(norm="unit", size=(64, 64)))


@pytest.mark.parametrize("text", ["cat\ndog\nbird\n", "0 cat\n1 dog\n2 bird\n", "0: cat\n1: dog\n2: bird\n"])
def test_labels_formats(tmp_path: Path, text: str) -> None:
    (tmp_path / "l.txt").write_text(text)
    labels, _ = model_labels("m", 3, tmp_path / "l.txt", None, False, False)
    assert labels == ("cat", "dog", "bird")


def test_labels_count_and_background(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("background\ncat\ndog\n")  # a background entry is what the file means: dropped
    assert model_labels("m", 2, tmp_path / "l.txt", None, False, False)[0] == ("cat", "dog")
    (tmp_path / "x.txt").write_text("zebra\ncat\ndog\n")  # any other extra first label: the user says so
    with pytest.raises(BadInput, match=r"zebra.*--drop-first-label"):
        model_labels("m", 2, tmp_path / "x.txt", None, False, False)
    assert model_labels("m", 2, tmp_path / "x.txt", None, True, False)[0] == ("cat", "dog")
    with pytest.raises(BadInput, match="3 labels but the model has 5 outputs"):
        model_labels("m", 5, tmp_path / "l.txt", None, False, False)
    with pytest.raises(BadInput, match="--labels FILE"):
        model_labels("m", 5, None, None, False, False)


def test_sniff(tmp_path: Path) -> None:
    (tmp_path / "m.pth").write_bytes(b"x")
    with pytest.raises(BadInput, match=r"torch\.export"):
        sniff(tmp_path / "m.pth")
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"x")
    assert sniff(tmp_path / "sm") == "savedmodel"
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(BadInput, match="empty"):
        sniff(tmp_path / "m.onnx")


def test_convert_help_names_the_extra_of_each_format(cli: Cli) -> None:
    out = cli("convert", "--help").stdout
    for extra in ("keras2", "onnx-source", "pytorch", "--preset", "--unlabelled", "--drop-first-label"):
        assert extra in out
