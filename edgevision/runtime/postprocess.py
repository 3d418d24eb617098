"""Output tensor -> ranked labels: dequantize, top-k, threshold, background offset."""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

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
    if scores.size <= 4096:  # one stable sort: exact about ties, and fewer calls than a partition and a lexsort
        idx = np.argsort(-scores, kind="stable")[:k]
    elif k < scores.size:
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.lexsort((idx, -scores[idx]))]
    else:
        idx = np.lexsort((np.arange(scores.size), -scores))
    return _predictions(idx.tolist(), scores[idx].tolist(), labels, threshold, label_offset)


def _predictions(idx: list[int], values: list[float], labels: tuple[str, ...], threshold: float,
                 label_offset: int) -> list[Prediction]:
    out = []
    n = len(labels)
    for i, s in zip(idx, values, strict=True):
        if s < threshold:
            break
        j = i - label_offset
        name = labels[j] if 0 <= j < n else ("background" if j < 0 else str(i))
        out.append(Prediction(name, s, i))
    return out


class QuantizedRanker:
    """``top_k`` of an 8-bit output straight from the integers the interpreter wrote.

    Dequantizing is monotonic, so the order of the integers is the order of the scores, and only the
    ``k`` winners need a score: looked up in a table made once with :func:`dequantize` itself, so every
    score is bit-identical to ``top_k(dequantize(raw))``. After an invoke the caches are cold and each
    NumPy call costs tens of microseconds on its own; this path makes four instead of a dozen.
    """

    def __init__(self, dtype: np.dtype, quant: OutputQuant) -> None:
        info = np.iinfo(dtype)
        self.low = int(info.min)
        self.table = dequantize(np.arange(info.min, int(info.max) + 1, dtype=dtype), quant).tolist()

    @staticmethod
    def handles(dtype: np.dtype, quant: OutputQuant) -> bool:
        return np.dtype(dtype) in (np.dtype(np.uint8), np.dtype(np.int8)) and quant.scale >= 0

    def rank(self, raw: np.ndarray, labels: tuple[str, ...], k: int = 3, threshold: float = -np.inf,
             label_offset: int = 0) -> list[Prediction]:
        k = max(1, min(k, raw.size))  # (indices are flat: argmax, argsort(axis=None) and item() take any shape)
        # ~x reverses the order of 8-bit integers without overflow; a stable sort of them is a radix sort
        idx = [int(raw.argmax())] if k == 1 else np.argsort(~raw, axis=None, kind="stable")[:k].tolist()
        table, low = self.table, self.low
        values = [table[raw.item(i) - low] for i in idx]
        return _predictions(idx, values, labels, threshold, label_offset)
