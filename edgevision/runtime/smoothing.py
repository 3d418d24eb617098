"""Temporal smoothing of scores: a moving average over the last k frames.

A single frame's top label flickers between close classes; averaging the dequantized
scores of the last k frames steadies it at the cost of (k-1)/2 frames of lag. The window
restarts after a source gap (a reconnect), where old frames say nothing about new ones.
"""

from __future__ import annotations

import numpy as np


class ScoreSmoother:
    """``update(scores)`` returns the mean of the last ``window`` score vectors (itself when window is 1)."""

    def __init__(self, window: int = 1) -> None:
        if window < 1:
            raise ValueError("smoothing window must be at least 1")
        self.window = window
        self._buf: np.ndarray | None = None
        self._n = 0
        self._pos = 0

    def reset(self) -> None:
        self._n = self._pos = 0

    def update(self, scores: np.ndarray) -> np.ndarray:
        if self.window == 1:
            return scores
        if self._buf is None or self._buf.shape[1] != scores.size:
            self._buf = np.zeros((self.window, scores.size), np.float32)
            self._n = self._pos = 0
        self._buf[self._pos] = scores
        self._pos = (self._pos + 1) % self.window
        self._n = min(self._n + 1, self.window)
        return self._buf[: self._n].mean(axis=0) if self._n < self.window else self._buf.mean(axis=0)
