"""Classification metrics in plain NumPy, shared by training, evaluation and the converter's gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def classification_report(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                          classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages, confusion matrix."""
    n = len(classes)
    cm = confusion_matrix(y_true, y_pred, n)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n), where=denom > 0)
    total = support.sum()
    weights = support / total if total else np.zeros(n)
    per_class = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
               "support": int(support[i])}
        for i, name in enumerate(classes)
    }
    present = support > 0
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "count": int(total),
        "per_class": per_class,
        "macro": {k: float(v[present].mean()) if present.any() else 0.0
                  for k, v in (("precision", precision), ("recall", recall), ("f1", f1))},
        "weighted": {k: float((v * weights).sum()) for k, v in (("precision", precision), ("recall", recall),
                                                                 ("f1", f1))},
        "confusion": cm.tolist(),
    }


def worst_confusions(cm: np.ndarray | list[list[int]], classes: Sequence[str], n: int = 5) -> list[dict[str, Any]]:
    """The most frequent (true, predicted) mistakes, largest first."""
    m = np.asarray(cm)
    pairs = [(int(m[i, j]), i, j) for i in range(m.shape[0]) for j in range(m.shape[1]) if i != j and m[i, j] > 0]
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [{"true": classes[i], "predicted": classes[j], "count": c} for c, i, j in pairs[:n]]


def top_k_accuracy(y_true: Sequence[int] | np.ndarray, scores: np.ndarray, k: int = 5) -> float:
    """Share of samples whose true class is among the ``k`` highest scores (ties count as hits)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    if s.ndim != 2 or len(y) != len(s):
        raise ValueError(f"scores must be (N, classes) for N={len(y)} labels, got {s.shape}")
    if not len(y):
        return 0.0
    k = min(k, s.shape[1])
    true_scores = s[np.arange(len(y)), y]
    higher = (s > true_scores[:, None]).sum(axis=1)
    return float(np.mean(higher < k))


def class_weights(counts: Sequence[int]) -> dict[int, float]:
    """Inverse-frequency weights (sklearn's "balanced"): a class's weight is total / (classes x its count)."""
    c = np.asarray(counts, dtype=np.float64)
    present = c > 0
    if not present.any():
        return {}
    total, k = c[present].sum(), int(present.sum())
    return {i: float(total / (k * n)) for i, n in enumerate(c) if n > 0}
