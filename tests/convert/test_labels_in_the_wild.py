"""Label files as published models ship them: repeated names (ImageNet's two 'crane'), Coral's indexed lines
with gaps and a background entry, byte-order marks, Windows line ends, Keras' JSON class index, and files
that claim a huge index (refused before anything of that size exists). No TensorFlow here."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest

from edgevision.convert.frontends.judging_data import labelled_dataset, model_labels
from edgevision.errors import BadInput
from edgevision.model.labels import label_ids, parse_labels, read_labels, repeated, repeated_warning

# the first names of ImageNet's class list around its two repeated names, as Google's and Coral's files carry them
IMAGENET_LIKE = ["tench", "goldfish", "crane", "hen", "maillot", "crane", "maillot", "tank"]


def test_repeated_names_are_allowed_and_kept_apart_by_index() -> None:
    labels = parse_labels("".join(f"{x}\n" for x in IMAGENET_LIKE))
    assert labels == tuple(IMAGENET_LIKE)
    assert repeated(labels) == {"crane": (2, 5), "maillot": (4, 6)}
    ids = label_ids(labels)
    assert len(set(ids)) == len(ids)
    assert ids[2] == "crane #2" and ids[5] == "crane #5" and ids[0] == "tench"
    warning = repeated_warning(labels, "labels.txt")
    assert warning is not None and "'crane' at 2, 5" in warning and "index" in warning
    assert repeated_warning(("a", "b"), "x") is None


def test_brought_model_labels_accept_repeats_and_drop_a_background_entry(tmp_path: Path) -> None:
    coral = tmp_path / "imagenet_labels.txt"  # Coral's layout: "N name", a background entry the model lacks
    coral.write_text("0 background\n" + "".join(f"{i + 1} {x}\n" for i, x in enumerate(IMAGENET_LIKE)))
    labels, where = model_labels("m.tflite", len(IMAGENET_LIKE), coral, None, False, False)
    assert labels == tuple(IMAGENET_LIKE) and "background" in where
    google = tmp_path / "labels.txt"  # Google's: plain lines, '???' first
    google.write_text("???\n" + "\n".join(IMAGENET_LIKE))
    assert model_labels("m.tflite", len(IMAGENET_LIKE), google, None, False, False)[0] == tuple(IMAGENET_LIKE)
    odd = tmp_path / "odd.txt"  # one extra first label that is not a background name: the user must say so
    odd.write_text("zebra\n" + "\n".join(IMAGENET_LIKE))
    with pytest.raises(BadInput, match="--drop-first-label"):
        model_labels("m.tflite", len(IMAGENET_LIKE), odd, None, False, False)


def test_bom_crlf_and_separators_as_other_tools_write_them(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_bytes("\ufeffcat\r\ndog\r\nbird\r\n\r\n".encode())  # Notepad: BOM and CRLF
    assert read_labels(f) == ("cat", "dog", "bird")
    f.write_bytes("\ufeff0: cat\r\n1: dog\r\n".encode())
    assert read_labels(f) == ("cat", "dog")
    assert parse_labels("0,cat\n1,dog\n2,hot dog\n") == ("cat", "dog", "hot dog")
    assert parse_labels("0  background\n1  tench, Tinca tinca\n")[1] == "tench, Tinca tinca"


def test_keras_json_class_index() -> None:
    keras_index = {"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"], "3": ["n02012849", "crane"]}
    assert parse_labels(json.dumps(keras_index)) == ("tench", "goldfish", "2", "crane")
    assert parse_labels('["a", "b"]') == ("a", "b")
    with pytest.raises(BadInput, match="class indices"):
        parse_labels('{"x": "a"}')
    with pytest.raises(BadInput, match="JSON"):
        parse_labels('{"0": ')


def test_a_huge_index_is_refused_before_it_is_allocated(tmp_path: Path) -> None:
    """'N name' claims N classes: checked against the model's outputs (or the label limit) before the list exists."""
    f = tmp_path / "labels.txt"
    f.write_text("0 cat\n4000000000 dog\n")
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(BadInput, match="more than the model's 10 outputs"):
        read_labels(f, expected=10)
    with pytest.raises(BadInput, match="EDGEVISION_MAX_LABELS"):
        read_labels(f)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2_000_000 and time.perf_counter() - t0 < 5.0  # a 4e9-entry list would take minutes and gigabytes
    with pytest.raises(BadInput, match="more than the model's 10 outputs"):
        parse_labels(json.dumps({"0": "a", "999999999": "b"}), expected=10)
    ok = parse_labels("0 background\n1 cat\n10 dog\n", expected=10)  # index 10 = 10 outputs + a background
    assert len(ok) == 11 and ok[10] == "dog"


def test_a_labels_file_over_the_size_limit_is_refused_unread(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EDGEVISION_MAX_ASSOCIATED_MB", "0.001")
    f = tmp_path / "labels.txt"
    f.write_text("cat\n" * 1000)
    with pytest.raises(BadInput, match="larger than"):
        read_labels(f)


def test_class_folders_match_a_repeated_name_only_with_its_index(tmp_path: Path) -> None:
    classes = ("tench", "crane", "hen", "crane")
    for folder in ("crane", "tench"):
        (tmp_path / "a" / folder).mkdir(parents=True)
        (tmp_path / "a" / folder / "x.png").write_bytes(b"")
    with pytest.raises(BadInput, match="matches 2 outputs"):
        labelled_dataset(tmp_path / "a", classes, "labels.txt")
    for folder in ("crane #3", "tench"):
        (tmp_path / "b" / folder).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "b" / folder / f"{i}.png").write_bytes(b"")
    ds = labelled_dataset(tmp_path / "b", classes, "labels.txt")
    assert sorted({s.label for split in (ds.train, ds.val, ds.test) for s in split}) == [0, 3]
