"""Dataset discovery: split folders, seeded splits, and the clear refusals."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgevision.data.discover import discover, ensure_val
from edgevision.errors import BadInput


def _img(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 8, 3), 100, np.uint8))


def test_seeded_split_is_stratified_and_reproducible(tmp_path: Path) -> None:
    for c in ("a", "b"):
        for i in range(20):
            _img(tmp_path / c / f"{i}.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    ds = discover(tmp_path, 0.2, 0.2, seed=1)
    assert ds.classes == ("a", "b") and ds.split_mode == "seeded"
    assert ds.counts() == {"train": [12, 12], "val": [4, 4], "test": [4, 4]}
    assert discover(tmp_path, 0.2, 0.2, seed=1) == ds
    assert discover(tmp_path, 0.2, 0.2, seed=2) != ds


def test_split_folders(tmp_path: Path) -> None:
    for split, n in (("train", 5), ("test", 2)):
        for c in ("x", "y"):
            for i in range(n):
                _img(tmp_path / split / c / f"{i}.jpg")
    ds = discover(tmp_path)
    assert ds.split_mode == "folders" and len(ds.train) == 10 and len(ds.test) == 4 and not ds.val
    ds2 = ensure_val(ds, 0.2, seed=0)
    assert len(ds2.val) == 2 and len(ds2.train) == 8


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found"):
        discover(tmp_path / "missing")
    with pytest.raises(BadInput, match="no images"):
        discover(tmp_path)
    _img(tmp_path / "only" / "1.png")
    with pytest.raises(BadInput, match="only one class"):
        discover(tmp_path)
    _img(tmp_path / "train" / "a" / "1.png")
    _img(tmp_path / "train" / "b" / "1.png")
    _img(tmp_path / "test" / "zebra" / "1.png")
    with pytest.raises(BadInput, match="zebra"):
        discover(tmp_path)
