"""Reference images embedded in the model: a known input and the outputs it gave on the desktop.

On the device, ``edgevision doctor`` runs them through the real runtime and compares, which
catches a wrong runtime, resize or crop policy before any camera is involved. They are
non-square on purpose: squashing and centre-cropping give visibly different tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.data.discover import Sample
from edgevision.errors import BadInput
from edgevision.runtime.classifier import Classifier
from edgevision.runtime.images import decode_image, read_image

REFERENCE_COUNT = 3


@dataclass(frozen=True)
class Reference:
    file: str
    label: str
    png: bytes


def _non_square(rgb: np.ndarray, wide: bool) -> np.ndarray:
    """Reflect-pad to 3:2 (or 2:3) so the content stays natural but the aspect changes."""
    h, w = rgb.shape[:2]
    if wide:
        extra = w // 2
        return np.pad(rgb, ((0, 0), (extra // 2, extra - extra // 2), (0, 0)), mode="reflect")
    extra = h // 2
    return np.pad(rgb, ((extra // 2, extra - extra // 2), (0, 0), (0, 0)), mode="reflect")


def _small(rgb: np.ndarray, longest: int) -> np.ndarray:
    """Downscale (area) so the longer side is at most ``longest``: they ride inside every model file."""
    import cv2

    h, w = rgb.shape[:2]
    if max(h, w) <= longest:
        return rgb
    s = longest / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def pick_references(samples: Sequence[Sample], classes: Sequence[str], n: int = REFERENCE_COUNT,
                    input_size: int | None = None) -> list[Reference]:
    """One readable held-out image from each of the first ``n`` classes that have one.

    With ``input_size`` the images are kept small (longer side 1.5x the model input, so
    the device still has to resize them) instead of carrying full photos in the model.
    """
    import cv2

    out: list[Reference] = []
    used: set[int] = set()
    for s in samples:
        if s.label in used:
            continue
        try:
            rgb = read_image(s.path)
        except BadInput:
            continue
        img = _non_square(rgb, wide=len(out) % 2 == 0)
        if input_size:
            img = _small(img, max(48, round(1.5 * input_size)))
        ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if ok:
            out.append(Reference(f"reference_{len(out)}.png", classes[s.label], png.tobytes()))
            used.add(s.label)
        if len(out) >= n:
            break
    return out


def expected_outputs(refs: Sequence[Reference], models: Mapping[str, str | Path]) -> dict[str, list[list[float]]]:
    """Scores each model gives each reference image through the device runtime."""
    out: dict[str, list[list[float]]] = {}
    for name, path in models.items():
        clf = Classifier(path)
        out[name] = [[round(float(v), 6) for v in clf.scores(decode_image(r.png, r.file))] for r in refs]
    return out


def card_entries(refs: Sequence[Reference], scores: Sequence[Sequence[float]],
                 float_scores: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
    return [{"file": r.file, "label": r.label, "scores": list(s), "float_scores": list(f)}
            for r, s, f in zip(refs, scores, float_scores, strict=True)]
