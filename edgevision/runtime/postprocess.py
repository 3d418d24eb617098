"""Output tensor -> ranked labels: dequantize, top-k, threshold, background offset."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Prediction(NamedTuple):
    """One ranked class: what ``Classifier.classify`` returns and each ``top_k`` entry of a label event."""

    label: str
    score: float
    index: int

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": round(self.score, 6), "index": self.index}


class OutputQuant(NamedTuple):
    scale: float = 0.0
    zero_point: int = 0


def dequantize(raw: np.ndarray, quant: OutputQuant) -> np.ndarray:
    """Scores as float32, as pycoral's ``classify.get_scores`` computes them (no softmax added)."""
    flat = raw.reshape(-1)
    if quant.scale:
        return (flat.astype(np.float32) - quant.zero_point) * np.float32(quant.scale)
    return flat.astype(np.float32, copy=False)


def top_k(scores: np.ndarray, labels: tuple[str, ...], k: int = 3, threshold: float = -np.inf,
          label_offset: int = 0) -> list[Prediction]:
    """The ``k`` best classes with ``score >= threshold``, best first; ties keep index order.

    ``label_offset`` is 1 for models whose output index 0 is a background class that the
    labels file does not list.
    """
    k = max(1, min(k, scores.size))
    if scores.size <= 256:  # a stable sort is cheapest for small heads and keeps ties in index order
        idx = np.argsort(-scores, kind="stable")[:k]
    elif k < scores.size:
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.lexsort((idx, -scores[idx]))]
    else:
        idx = np.lexsort((np.arange(scores.size), -scores))
    out = []
    n = len(labels)
    for i, s in zip(idx.tolist(), scores[idx].tolist(), strict=True):
        if s < threshold:
            break
        j = i - label_offset
        name = labels[j] if 0 <= j < n else ("background" if j < 0 else str(i))
        out.append(Prediction(name, s, i))
    return out
