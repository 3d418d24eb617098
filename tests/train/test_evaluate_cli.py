"""``edgevision evaluate`` for .tflite files and training runs: the report, its JSON and its PNG."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import HAS_TF, need


def test_evaluate_a_tflite_saves_json_and_confusion_png(cli, trained, tmp_path: Path) -> None:
    out = cli("evaluate", trained.int8, trained.data, "--out", tmp_path / "ev", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["split"] == "test" and report["count"] == 80
    assert set(report) >= {"accuracy", "per_class", "macro", "weighted", "confusion", "worst_confusions"}
    saved = json.loads(Path(report["files"]["json"]).read_text())
    assert saved["accuracy"] == report["accuracy"]
    png = Path(report["files"]["confusion_png"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    human = cli("evaluate", trained.int8, trained.data, "--out", tmp_path / "ev2")
    assert "most confused pairs" in human.stdout or report["accuracy"] == 1.0
    assert "macro" in human.stdout and "weighted" in human.stdout


@pytest.mark.tf
def test_evaluate_a_run_on_its_split_and_on_a_flat_folder(cli, trained, tmp_path: Path) -> None:
    need(HAS_TF, "TensorFlow is not installed")
    out = cli("evaluate", trained.run, "--split", "val", "--out", tmp_path / "ev", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["kind"] == "keras" and report["split"] == "val" and report["count"] == 80
    run = json.loads((trained.run / "run.json").read_text())
    assert report["accuracy"] == pytest.approx(run["metrics"]["val"]["accuracy"])
    flat = tmp_path / "flat"  # a plain folder of class folders: evaluated whole
    for cls in ("circle", "star"):
        (flat / cls).mkdir(parents=True)
        for f in sorted((trained.data / "test" / cls).glob("*.png"))[:5]:
            (flat / cls / f.name).write_bytes(f.read_bytes())
    other = cli("evaluate", trained.run / "model.keras", flat, "--json", "--out", tmp_path / "ev3")
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["split"] == "all" and json.loads(other.stdout)["count"] == 10
    (flat / "zebra").mkdir()
    (flat / "zebra" / "z.png").write_bytes(f.read_bytes())
    bad = cli("evaluate", trained.run, flat)
    assert bad.returncode == 2 and "zebra" in bad.stderr and "Traceback" not in bad.stderr


def test_evaluate_refusals(cli, trained, tmp_path: Path) -> None:
    missing = cli("evaluate", tmp_path / "nope.tflite", trained.data)
    assert missing.returncode == 2 and "model not found" in missing.stderr
    no_data = cli("evaluate", trained.int8)
    assert no_data.returncode == 2 and "needs a DATA folder" in no_data.stderr


def test_evaluate_a_tflite_without_tensorflow_or_matplotlib(device_python: str, trained, tmp_path: Path) -> None:
    out = subprocess.run([device_python, "-m", "edgevision", "evaluate", str(trained.int8), str(trained.data),
                          "--out", str(tmp_path / "ev"), "--json"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert Path(report["files"]["json"]).is_file() and "confusion_png" not in report["files"]


def test_data_commands_have_help_with_examples(cli) -> None:
    for args in (("data", "--help"), ("data", "check", "--help"), ("data", "pack", "--help")):
        out = cli(*args)
        assert out.returncode == 0 and "Usage" in out.stdout
    assert "Examples" in cli("data", "pack", "--help").stdout
    assert "--resume" in cli("train", "--help").stdout


def test_a_run_trained_on_a_relative_path_works_from_anywhere_and_after_a_move(cli, shapes_data: Path,
                                                                               tmp_path: Path) -> None:
    need(HAS_TF, "TensorFlow is not installed")
    import shutil

    work = tmp_path / "work"
    shutil.copytree(shapes_data, work / "data")
    out = cli("train", "data", "--out", "runs/rel", "--size", "32", "--epochs", "1", cwd=work)
    assert out.returncode == 0, out.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ev = cli("evaluate", work / "runs" / "rel", "--json", cwd=elsewhere)
    assert ev.returncode == 0, ev.stderr
    moved = tmp_path / "moved"
    shutil.move(work / "runs" / "rel", moved)  # the data stays; the run's listing points at it absolutely
    conv = cli("convert", moved, "--max-drop", "100", "--json", cwd=elsewhere)
    assert conv.returncode == 0, conv.stderr
    listing = json.loads((moved / "dataset.json").read_text())
    assert all(Path(p).is_absolute() for p, _ in listing["train"])
