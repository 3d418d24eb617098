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
    """What a source reports about itself once opened (fps/size None where the source cannot tell)."""

    name: str
    kind: str
    live: bool
    fps: float | None
    width: int | None
    height: int | None
    pixel_format: str = "RGB"  # what the device delivers before the source converts it to RGB

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "live": self.live, "fps": self.fps, "width": self.width,
                "height": self.height, "pixel_format": self.pixel_format}
