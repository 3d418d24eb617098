"""An exported model loads in MediaPipe Tasks' ImageClassifier with no extra files, and agrees with us.

MediaPipe runs in its own virtualenv (it pins numpy<2 and its own OpenCV build).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need

pytestmark = [pytest.mark.tf, pytest.mark.interop]

SCRIPT = r"""
import json, sys
import mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
model, paths = sys.argv[1], sys.argv[2:]
opts = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model), max_results=1)
out = []
with vision.ImageClassifier.create_from_options(opts) as clf:
    for p in paths:
        cats = clf.classify(mp.Image.create_from_file(p)).classifications[0].categories
        out.append([cats[0].category_name, cats[0].score])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mediapipe_python() -> str:
    path = os.environ.get("EDGEVISION_MEDIAPIPE_PYTHON")
    need(bool(path) and Path(path or "").exists(), "no MediaPipe virtualenv (run `make test`)")
    return str(path)


@pytest.mark.parametrize("variant", ["int8", "float32"])
def test_mediapipe_reads_our_metadata_and_agrees(mediapipe_python: str, cli, trained, tmp_path: Path,
                                                 variant: str) -> None:
    model = getattr(trained, variant)
    images = sorted((trained.data / "test").rglob("*.png"))
    mp_out = subprocess.run([mediapipe_python, "-c", SCRIPT, str(model), *map(str, images)], capture_output=True,
                            text=True, timeout=300, env={"PATH": os.environ["PATH"], "GLOG_minloglevel": "2"})
    assert mp_out.returncode == 0, mp_out.stderr[-2000:]
    mediapipe = json.loads(mp_out.stdout.strip().splitlines()[-1])
    ours = cli("run", model, "--source", trained.data / "test", "--top-k", "5")
    assert ours.returncode == 0, ours.stderr
    events = [json.loads(line) for line in ours.stdout.splitlines()]
    assert [e["source"] for e in events] == [str(p) for p in images]
    for e, (mp_label, mp_score) in zip(events, mediapipe, strict=True):
        assert e["score"] == pytest.approx(mp_score, abs=1e-4)
        # an exact tie in the (quantized) top score may be broken either way; anything else must match
        tied = {k["label"] for k in e["top_k"] if k["score"] == e["score"]}
        assert mp_label == e["label"] or (len(tied) > 1 and mp_label in tied), (e, mp_label)
    ties = sum(sum(k["score"] == e["score"] for k in e["top_k"]) > 1 for e in events)
    assert ties < len(events) // 4, f"{ties} ties: the parity check would prove little"
