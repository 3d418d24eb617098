"""The representative set for int8 calibration: stratified per class, device-exact pixels.

Each image goes through the runtime's own decode and ``resize_to_spec`` (via
``load_pixels``), so the activation ranges are measured on exactly the pixels the device
will feed. What was chosen is recorded (per-class counts, seed, a hash of the file list)
and embedded in the model card, so a conversion can be audited and reproduced.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.data.discover import Sample
from edgevision.data.loader import load_pixels
from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec


@dataclass(frozen=True)
class CalibrationSet:
    """Calibration images (uint8 NHWC), their labels, and the record of how they were chosen."""

    images: np.ndarray
    labels: np.ndarray
    record: dict[str, Any]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def stratified(samples: Sequence[Sample], size: int, seed: int = 0) -> list[Sample]:
    """Up to ``size`` samples, round-robin over classes so every class is represented."""
    if size <= 0:
        raise BadInput("calibration size must be at least 1")
    by_class: dict[int, list[Sample]] = {}
    for s in samples:
        by_class.setdefault(s.label, []).append(s)
    if not by_class:
        raise BadInput("calibration set is empty: the run has no training images")
    rng = random.Random(seed)
    for label in sorted(by_class):
        rng.shuffle(by_class[label])
    picked: list[Sample] = []
    depth = 0
    while len(picked) < size and any(depth < len(g) for g in by_class.values()):
        for label in sorted(by_class):
            if depth < len(by_class[label]) and len(picked) < size:
                picked.append(by_class[label][depth])
        depth += 1
    return picked


def load_calibration(samples: Sequence[Sample], spec: PreprocessSpec, size: int, classes: Sequence[str],
                     seed: int = 0, source: str = "train",
                     on_image: Callable[[], None] | None = None) -> CalibrationSet:
    """Pick and decode the calibration images; unreadable files are skipped and counted."""
    picked = stratified(samples, size, seed)
    images: list[np.ndarray] = []
    labels: list[int] = []
    unreadable: list[str] = []
    for s in picked:
        img, ok = load_pixels(s.path, spec)
        if ok:
            images.append(img)
            labels.append(s.label)
        else:
            unreadable.append(s.path)
        if on_image:
            on_image()
    if not images:
        raise BadInput(f"calibration set is empty: none of the {len(picked)} chosen {source} images could be read "
                       f"(first: {picked[0].path})")
    per_class = {classes[i]: int(n) for i, n in enumerate(np.bincount(labels, minlength=len(classes))) if n}
    digest = hashlib.sha256("\n".join(sorted(Path(s.path).name + f"|{s.label}" for s in picked)).encode())
    record = {
        "images": len(images), "requested": int(size), "available": len(samples), "source": source,
        "stratified": True, "seed": int(seed), "per_class": per_class, "unreadable": len(unreadable),
        "preprocess": {"resize": spec.resize, "crop": spec.crop, "size": [spec.width, spec.height],
                       "path": "edgevision.runtime.preprocess.resize_to_spec"},
        "files_sha256": digest.hexdigest(),
    }
    return CalibrationSet(np.stack(images), np.asarray(labels, dtype=np.int64), record)
