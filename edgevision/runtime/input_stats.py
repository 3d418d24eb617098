"""Cheap statistics of one input frame, for the drift monitor and the reference profile it compares with.

Brightness (mean luma, 0-255), contrast (its standard deviation), colour balance (the red and the blue
channel's share of the three) and sharpness (mean absolute Laplacian over contrast, so a dim frame is not
called blurred). All are taken on a 64x64 copy of the frame made with one bilinear resize: tens of
microseconds for a 640x480 frame, whatever the frame's size (``benchmarks/suites/bench_drift.py`` times
it). The converter computes the same numbers on its held-out images, so the two sides of the comparison
are measured the same way.
"""

from __future__ import annotations

import numpy as np

from edgevision.model.profile_signals import INPUT_SIGNALS, THUMBNAIL

__all__ = ["INPUT_SIGNALS", "input_stats"]


def input_stats(image: np.ndarray, order: str = "RGB") -> tuple[float, float, float, float, float]:
    """(brightness, contrast, red, blue, sharpness) of an HxWx3 uint8 frame whose channels are in ``order``."""
    import cv2

    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if image.shape[0] != THUMBNAIL or image.shape[1] != THUMBNAIL:
        image = cv2.resize(image, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_LINEAR)
    if image.ndim == 2 or image.shape[2] == 1:
        gray = image if image.ndim == 2 else image[..., 0]
        mean, std = cv2.meanStdDev(gray)
        r = b = 1.0 / 3.0
    else:
        means = cv2.mean(image)
        first, green, last = means[0], means[1], means[2]
        red, blue = (first, last) if order == "RGB" else (last, first)
        total = red + green + blue
        r, b = (red / total, blue / total) if total > 1e-6 else (1.0 / 3.0, 1.0 / 3.0)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY if order == "RGB" else cv2.COLOR_BGR2GRAY)
        mean, std = cv2.meanStdDev(gray)
    contrast = float(std[0, 0])
    edges = cv2.mean(cv2.convertScaleAbs(cv2.Laplacian(gray, cv2.CV_16S)))[0]
    return float(mean[0, 0]), contrast, r, b, edges / (contrast + 1.0)
