"""Metrics added for large label sets and imbalanced data."""

from __future__ import annotations

import numpy as np
import pytest

from edgevision.metrics import class_weights, top_k_accuracy


def test_top_k_accuracy() -> None:
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    y = np.array([2, 0, 0])
    assert top_k_accuracy(y, scores, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(y, scores, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(y, scores, 5) == 1.0  # k beyond the class count: everything is a hit


def test_balanced_class_weights_equalise_total_weight() -> None:
    counts = [100, 25, 0, 75]
    w = class_weights(counts)
    assert set(w) == {0, 1, 3}
    totals = {i: w[i] * counts[i] for i in w}
    assert max(totals.values()) == pytest.approx(min(totals.values()))
    assert sum(totals.values()) == pytest.approx(sum(counts))
    assert class_weights([0, 0]) == {}
