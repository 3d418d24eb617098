"""Pack -> train from shards -> convert and evaluate: a shard run is as usable as a folder run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import HAS_TF, need

pytestmark = pytest.mark.tf


def test_pack_train_convert_evaluate(cli, messy_data: Path, tmp_path: Path) -> None:
    need(HAS_TF, "TensorFlow is not installed")
    shards = tmp_path / "shards"
    packed = cli("data", "pack", messy_data, "--out", shards, "--shards", "2", "--json")
    assert packed.returncode == 0, packed.stderr
    summary = json.loads(packed.stdout)
    assert summary["skipped"] == 2 and summary["splits"]["train"]["shards"] == 2
    assert summary["content"] == "encoded"
    again = cli("data", "pack", messy_data, "--out", shards)
    assert again.returncode == 2 and "already holds shards" in again.stderr

    run = tmp_path / "run"
    trained = cli("train", shards, "--out", run, "--size", "32", "--epochs", "2", "--json")
    assert trained.returncode == 0, trained.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["data_kind"] == "shards" and info["counts"]["test"] == [16, 16, 16, 16, 17]
    listing = json.loads((run / "dataset.json").read_text())
    # the run's own copies are listed relative to the run, so it can be moved
    assert len(listing["test"]) == 81 and all((run / p).is_file() for p, _ in listing["test"])
    assert all(Path(p).parts[0] == "images" for p, _ in listing["test"] + listing["val"] + listing["train"])

    converted = cli("convert", run, "--max-drop", "100", "--json")
    assert converted.returncode == 0, converted.stderr
    assert json.loads(converted.stdout)["images"] == 81

    evaluated = cli("evaluate", run, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["split"] == "test" and report["count"] == 81 and report["kind"] == "keras"
    assert report["accuracy"] == pytest.approx(info["metrics"]["test"]["accuracy"])  # shards and files agree
    assert Path(report["files"]["json"]).is_file() and Path(report["files"]["confusion_png"]).is_file()
