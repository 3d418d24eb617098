"""train -> convert -> run through the CLI on a tiny real dataset, as a user would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgevision.convert.validate import Scored, gate
from tests.conftest import HAS_TF, need

pytestmark = pytest.mark.tf


def test_train_convert_run(cli, shapes_data: Path, tmp_path: Path) -> None:
    need(HAS_TF, "TensorFlow is not installed")
    data = tmp_path / "data"
    shutil.copytree(shapes_data, data)
    (data / "train" / "star" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    run = tmp_path / "runs" / "tiny"

    out = cli("train", data, "--out", run, "--size", "32", "--epochs", "3", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["skipped_images"] == 1 and summary["epochs_run"] == 3
    for name in ("model.keras", "labels.txt", "dataset.json", "run.json", "history.json"):
        assert (run / name).is_file()

    out = cli("convert", run, "--max-drop", "100", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert set(report["variants"]) == {"float32", "int8"}
    int8 = report["variants"]["int8"]
    assert int8["size_bytes"] < report["variants"]["float32"]["size_bytes"]
    assert 0.0 <= report["agreement"] <= 1.0 and report["images"] == 80
    assert json.loads((run / "export" / "convert_report.json").read_text())["passed"] is True

    strict = cli("convert", run, "--max-drop", "0", "--json")
    assert strict.returncode == (1 if json.loads(strict.stdout)["drop_points"] > 0 else 0)

    frames = sorted((data / "test" / "circle").glob("*.png"))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 64))
    for f in frames:
        writer.write(cv2.resize(cv2.imread(str(f)), (64, 64)))
    writer.release()
    out = cli("run", int8["path"], "--source", video)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["frame"] for e in events] == list(range(len(frames)))
    assert all(e["source"] == str(video) for e in events)


def test_gate_fails_over_budget_and_names_the_losers() -> None:
    truth = np.array([0, 0, 1, 1, 2, 2])
    ref = Scored("float32", "f", truth, truth.copy(), {"accuracy": 1.0})
    worse = np.array([0, 0, 1, 0, 2, 0])
    cand = Scored("int8", "q", truth, worse, {"accuracy": 4 / 6})
    g = gate(ref, cand, 1.0, ["a", "b", "c"])
    assert not g["passed"] and g["drop_points"] == pytest.approx(33.333, abs=1e-3)
    assert g["agreement"] == pytest.approx(4 / 6, abs=1e-4)
    assert set(g["worst_classes"]) == {"b", "c"}
    assert gate(ref, cand, 40.0, ["a", "b", "c"])["passed"]


def test_convert_refuses_a_corrupt_keras_file(cli, trained, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained.run, run)
    (run / "model.keras").write_bytes(b"PK\x03\x04 definitely not a keras archive")
    out = cli("convert", run)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "cannot load Keras model" in out.stderr


def test_convert_refuses_labels_of_the_wrong_length(cli, trained, tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    out = cli("convert", trained.run, "--labels", labels)
    assert out.returncode == 2 and "2 labels do not match" in out.stderr
