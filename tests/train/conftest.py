"""Fixtures for the training tests: a small dataset with every kind of awkward file."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest


def write_problem_files(root: Path) -> dict[str, Path]:
    """One of each: grayscale, CMYK, alpha, palette-with-transparency, EXIF-rotated, tiny, corrupt, empty."""
    from PIL import Image

    rng = np.random.default_rng(3)
    out: dict[str, Path] = {}

    def place(name: str, cls: str = "circle", split: str = "train") -> Path:
        p = root / split / cls / name
        p.parent.mkdir(parents=True, exist_ok=True)
        out[name.split(".")[0]] = p
        return p

    cv2.imwrite(str(place("gray.png")), rng.integers(0, 255, (40, 40), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).convert("CMYK").save(place("cmyk.jpg"))
    cv2.imwrite(str(place("alpha.png", "square")), rng.integers(0, 255, (40, 40, 4), dtype=np.uint8))
    pal = Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).convert("P")
    pal.save(place("palette.png", "square"), transparency=0)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rng.integers(0, 255, (30, 60, 3), dtype=np.uint8)).save(place("rotated.jpg", "cross"),
                                                                            exif=exif.tobytes())
    cv2.imwrite(str(place("tiny.png", "cross")), rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
    place("corrupt.jpg", "star").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    place("empty.png", "star").write_bytes(b"")
    return out


@pytest.fixture()
def messy_data(shapes_data: Path, tmp_path: Path) -> Path:
    """The shapes dataset plus awkward files, a duplicate within train and one across splits."""
    root = tmp_path / "messy"
    shutil.copytree(shapes_data, root)
    write_problem_files(root)
    first = sorted((root / "train" / "triangle").glob("*.png"))[0]
    shutil.copy(first, root / "train" / "triangle" / "copy_of_first.png")
    shutil.copy(first, root / "test" / "triangle" / "leaked.png")
    return root
