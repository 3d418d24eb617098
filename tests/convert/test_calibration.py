"""The calibration set: stratified per class, recorded, and clear when it cannot be built (no TF)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgevision.convert.calibration import load_calibration, stratified
from edgevision.data.discover import Sample
from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec

SPEC = PreprocessSpec(width=16, height=12, resize="area")


def _samples(tmp_path: Path, per_class: dict[int, int]) -> list[Sample]:
    out = []
    for label, n in per_class.items():
        for i in range(n):
            p = tmp_path / f"c{label}_{i}.png"
            cv2.imwrite(str(p), np.full((20, 30, 3), 40 * label + i, np.uint8))
            out.append(Sample(str(p), label))
    return out


def test_stratified_round_robin_covers_every_class() -> None:
    samples = [Sample(f"{c}/{i}.png", c) for c in range(3) for i in range(10 if c else 2)]
    picked = stratified(samples, 7, seed=1)
    counts = Counter(s.label for s in picked)
    assert len(picked) == 7 and set(counts) == {0, 1, 2} and counts[0] == 2
    assert stratified(samples, 7, seed=1) == picked  # seeded: reproducible
    assert len(stratified(samples, 100)) == len(samples)


def test_load_calibration_records_the_choice(tmp_path: Path) -> None:
    samples = _samples(tmp_path, {0: 4, 1: 4})
    ticks = []
    cal = load_calibration(samples, SPEC, 6, ["a", "b"], seed=3, on_image=lambda: ticks.append(1))
    assert cal.images.shape == (6, 12, 16, 3) and cal.images.dtype == np.uint8
    assert len(ticks) == 6
    r = cal.record
    assert r["images"] == 6 and r["requested"] == 6 and r["per_class"] == {"a": 3, "b": 3}
    assert r["stratified"] and r["seed"] == 3 and len(r["files_sha256"]) == 64
    assert r["preprocess"]["resize"] == "area"


def test_empty_calibration_sets_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="calibration set is empty: the run has no training images"):
        load_calibration([], SPEC, 10, ["a"])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(BadInput, match="none of the 1 chosen train images could be read"):
        load_calibration([Sample(str(broken), 0)], SPEC, 10, ["a"])
    with pytest.raises(BadInput, match="at least 1"):
        stratified([Sample("x", 0)], 0)
