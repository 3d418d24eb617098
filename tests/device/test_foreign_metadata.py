"""A model whose TFLite Metadata another tool wrote: MediaPipe's own metadata writer (``metadata_writers.
image_classifier``, what MediaPipe Model Maker and Google's published classifiers carry), not edgevision's.

The writer runs in MediaPipe's virtualenv; edgevision reads the result here, on the device side:
labels from the associated file, normalization from the input tensor's process unit.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FIXTURE_MODELS, need

pytestmark = pytest.mark.interop

LABELS = ["circle", "cross", "square", "star", "triangle"]
MEAN, STD = [127.5, 127.0, 126.0], [127.5, 64.0, 32.0]  # per channel, so a swapped or averaged pair shows
WRITE = r"""
import json, sys
from mediapipe.tasks.python.metadata.metadata_writers import image_classifier, metadata_writer
src, dst, labels, mean, std = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:])
writer = image_classifier.MetadataWriter.create(bytearray(open(src, "rb").read()), mean, std,
                                                metadata_writer.Labels().add(labels))
model, _ = writer.populate()
open(dst, "wb").write(model)
"""


@pytest.fixture(scope="module")
def mediapipe_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = os.environ.get("EDGEVISION_MEDIAPIPE_PYTHON")
    need(bool(python) and Path(python or "").exists(), "no MediaPipe virtualenv (run `make test`)")
    out = tmp_path_factory.mktemp("mediapipe_metadata") / "tiny_mediapipe_metadata.tflite"
    proc = subprocess.run([str(python), "-c", WRITE, str(FIXTURE_MODELS / "tiny_float32.tflite"), str(out),
                           json.dumps(LABELS), json.dumps(MEAN), json.dumps(STD)], capture_output=True, text=True,
                          timeout=180, env={"PATH": os.environ["PATH"], "GLOG_minloglevel": "2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_labels_and_normalization_come_from_mediapipes_metadata(mediapipe_model: Path) -> None:
    from edgevision.model.artifact import load_artifact

    art = load_artifact(mediapipe_model)
    assert art.labels == tuple(LABELS) and art.card is None  # no edgevision card: all of it is MediaPipe's
    assert art.metadata is not None and art.metadata.name == "ImageClassifier"
    assert art.metadata.mean == tuple(MEAN) and art.metadata.std == tuple(STD)
    assert art.metadata.labels_file in art.files


def test_classifier_applies_that_normalization(mediapipe_model: Path) -> None:
    from edgevision.runtime.classifier import Classifier, ClassifierOptions
    from edgevision.runtime.interpreter import make_interpreter

    clf = Classifier(mediapipe_model, options=ClassifierOptions(top_k=5, threads=1))
    ref, _ = make_interpreter((FIXTURE_MODELS / "tiny_float32.tflite").read_bytes(), 1)
    detail = ref.get_input_details()[0]
    rng = np.random.default_rng(3)
    for _ in range(5):
        rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)  # the model's input size: no resize involved
        ref.set_tensor(detail["index"], ((rgb.astype(np.float32) - MEAN) / STD)[None].astype(np.float32))
        ref.invoke()
        want = ref.get_tensor(ref.get_output_details()[0]["index"])[0]
        np.testing.assert_allclose(clf.scores(rgb), want, rtol=1e-5, atol=1e-5)
        assert [p.label for p in clf.classify(rgb)] == [LABELS[i] for i in np.argsort(-want, kind="stable")]


def test_run_needs_no_labels_or_norm_flags(cli, mediapipe_model: Path, models) -> None:
    out = cli("run", mediapipe_model, "--source", models.data / "test" / "star", "--max-frames", "3", timeout=120)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(events) == 3 and all(e["label"] in LABELS for e in events)
