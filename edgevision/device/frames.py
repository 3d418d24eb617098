"""The unit that flows from a source to the model: one RGB frame and where/when it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A captured frame. ``image`` is always HxWx3 RGB uint8, whatever the camera delivers."""

    image: np.ndarray
    index: int
    source: str
    t_capture: float
    capture_ms: float


@dataclass(frozen=True)
class SourceInfo:
    """What a source reports about itself once opened."""

    name: str
    kind: str
    live: bool
    fps: float | None
    width: int | None
    height: int | None
