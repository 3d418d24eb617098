"""The classifier and pipeline on a real exported model (no TensorFlow in this path)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import edgevision
from edgevision.errors import BadInput
from edgevision.runtime.classifier import Classifier
from edgevision.runtime.images import read_image
from tests.conftest import PHOTOS


def test_classifier_reads_everything_from_the_model_file(trained) -> None:
    clf = Classifier(trained.int8)
    assert clf.labels == ("circle", "cross", "square", "star", "triangle")
    assert clf.preprocessor.mode == "raw"          # int8 edgevision model: raw pixels, no arithmetic
    assert clf.spec.resize == "area" and clf.spec.width == 32
    img = next((trained.data / "test" / "star").glob("*.png"))
    preds = clf.classify(img, k=5)
    assert len(preds) == 5 and abs(sum(p.score for p in preds) - 1.0) < 0.05
    assert preds == sorted(preds, key=lambda p: -p.score)
    assert clf.classify(read_image(img), k=5) == preds


def test_api_stream_matches_folder_order(trained) -> None:
    folder = trained.data / "test" / "circle"
    events = list(edgevision.stream(trained.int8, folder, top_k=2))
    files = sorted(folder.glob("*.png"))
    assert [e.source for e in events] == [str(f) for f in files]
    assert [e.frame for e in events] == list(range(len(files)))
    e = events[0]
    d = e.to_dict()
    for key in ("frame", "source", "label", "score", "index", "top_k", "t_capture", "t_emit", "ms", "dropped"):
        assert key in d
    assert set(d["ms"]) == {"capture", "preprocess", "infer", "post"}
    assert d["t_emit"] >= d["t_capture"] and len(d["top_k"]) == 2
    json.loads(e.to_json())


def test_smoothing_averages_scores(trained) -> None:
    folder = trained.data / "test" / "square"
    raw = list(edgevision.stream(trained.int8, folder, top_k=5))
    smooth = list(edgevision.stream(trained.int8, folder, top_k=5, smooth=3))
    def vec(e):
        return np.array([next(p.score for p in e.top_k if p.index == i) for i in range(5)])
    np.testing.assert_allclose(vec(smooth[2]), np.mean([vec(raw[i]) for i in range(3)], axis=0), atol=1e-5)


def test_label_file_that_does_not_match(trained, tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    with pytest.raises(BadInput, match="3 labels but the model"):
        Classifier(trained.int8, labels)


def test_corrupt_image_in_a_folder_source_is_skipped(trained, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    src = next((trained.data / "test" / "star").glob("*.png"))
    shutil.copy(src, folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG garbage")
    shutil.copy(src, folder / "c.png")
    events = list(edgevision.stream(trained.int8, folder))
    assert [Path(e.source).name for e in events] == ["a.png", "c.png"]


def test_exif_rotation_is_applied() -> None:
    photo = PHOTOS / "phone_exif_rotate90.jpg"  # a phone photo with EXIF Orientation 6, 320x224 as stored
    rgb = read_image(photo)
    raw = cv2.imread(str(photo), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert rgb.shape[:2] == raw.shape[:2][::-1] or not np.array_equal(rgb[..., ::-1], raw)
    np.testing.assert_array_equal(rgb[..., ::-1], np.rot90(raw, k=-1))


def test_embedded_reference_images_reproduce_their_scores(trained) -> None:
    """The model carries non-square reference images and the scores they gave at export."""
    from edgevision.model.artifact import load_artifact
    from edgevision.model.tflite_file import associated_files
    from edgevision.runtime.images import decode_image

    for path in (trained.int8, trained.float32):
        art = load_artifact(path)
        refs = art.card.references
        assert len(refs) == 3
        files = associated_files(art.data)
        clf = Classifier(art)
        for ref in refs:
            rgb = decode_image(files[ref["file"]])
            assert rgb.shape[0] != rgb.shape[1]
            np.testing.assert_allclose(clf.scores(rgb), ref["scores"], atol=1e-5)
            assert len(ref["float_scores"]) == len(ref["scores"]) == 5
