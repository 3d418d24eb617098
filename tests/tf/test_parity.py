"""Parity: labels from `edgevision run` = the converter's validation path = MediaPipe Tasks, on the same images."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import need
from tests.tf.test_mediapipe_interop import SCRIPT as MEDIAPIPE_SCRIPT

pytestmark = pytest.mark.tf


def _run_labels(cli, model: Path, folder: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r = cli("run", model, "--source", folder, "--top-k", "5", timeout=300)
    assert r.returncode == 0, r.stderr
    return {e["source"]: e for e in map(json.loads, r.stdout.splitlines())}


def _validation_labels(model: Path, folder: Path) -> dict[str, str]:
    from edgevision.convert.validate import score_models
    from edgevision.data.discover import discover

    ds = discover(folder, val_fraction=0.0, test_fraction=0.0)
    samples = ds.train + ds.val + ds.test
    scored = score_models({"m": model}, samples, ds.classes)["m"]
    return {s.path: ds.classes[int(y)] for s, y in zip(samples, scored.y_pred, strict=True)}


def _non_square_copy(src: Path, dst: Path) -> Path:
    """The test images reflect-padded to 3:2 and 2:3, so resizing (squash) is part of the comparison."""
    for i, p in enumerate(sorted(src.rglob("*.png"))):
        img = cv2.imread(str(p))
        pad = ((0, 0), (8, 8), (0, 0)) if i % 2 else ((8, 8), (0, 0), (0, 0))
        out = dst / p.parent.name / p.name
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), np.pad(img, pad, mode="reflect"))
    return dst


@pytest.mark.parametrize("variant", ["int8", "float32"])
def test_run_equals_converter_validation(cli, trained, tmp_path: Path, variant: str) -> None:
    model = getattr(trained, variant)
    for folder in (trained.data / "test", _non_square_copy(trained.data / "test", tmp_path / "wide")):
        run = _run_labels(cli, model, folder)
        val = _validation_labels(model, folder)
        assert len(run) == len(val) == len(list(folder.rglob("*.png")))
        assert {k: e["label"] for k, e in run.items()} == val


@pytest.mark.interop
@pytest.mark.parametrize("variant", ["int8", "float32"])
def test_run_equals_mediapipe_and_validation(cli, trained, variant: str) -> None:
    mp_python = os.environ.get("EDGEVISION_MEDIAPIPE_PYTHON", "")
    need(bool(mp_python) and Path(mp_python).exists(), "no MediaPipe virtualenv (run `make test`)")
    model = getattr(trained, variant)
    folder = trained.data / "test"
    images = sorted(folder.rglob("*.png"))
    out = subprocess.run([mp_python, "-c", MEDIAPIPE_SCRIPT, str(model), *map(str, images)], capture_output=True,
                         text=True, timeout=300, env={"PATH": os.environ["PATH"], "GLOG_minloglevel": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    mediapipe = dict(zip(map(str, images), json.loads(out.stdout.strip().splitlines()[-1]), strict=True))
    run = _run_labels(cli, model, folder)
    val = _validation_labels(model, folder)
    ties = 0
    for path, event in run.items():
        mp_label, mp_score = mediapipe[path]
        assert event["label"] == val[path]
        assert event["score"] == pytest.approx(mp_score, abs=1e-4)
        tied = {k["label"] for k in event["top_k"] if k["score"] == event["score"]}
        ties += len(tied) > 1
        assert mp_label == event["label"] or (len(tied) > 1 and mp_label in tied), (path, event, mp_label)
    assert ties < len(run) // 4
