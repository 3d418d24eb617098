"""The unit that flows from a source to the model: one frame, its channel order, and where/when it came from.

Sources hand frames over in the byte order the device delivers (OpenCV decodes to BGR,
picamera2's ``RGB888`` is B,G,R in memory) and say which in ``order``: the preprocessing
swaps channels after resizing, on the model-sized image, instead of converting every
full-resolution frame (resizing works per channel, so the tensor is bit-identical). A reader thread
with time to spare may also have made the model's input tensor already (``staged``).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from edgevision.runtime.into_tensor import Staged


@dataclass(frozen=True, eq=False)
class Frame:
    """A captured frame: ``image`` is HxWx3 uint8 with channels in ``order`` ("RGB" or "BGR"). Frames compare
    by identity: an image array has no single truth value, so comparing two frames' fields could not answer
    (and a start need not build the methods that would try)."""

    image: np.ndarray
    index: int
    source: str
    t_capture: float
    capture_ms: float
    order: str = "RGB"
    staged: Staged | None = None  # the model's input tensor made from ``image`` ahead of time, if any

    def rgb(self) -> np.ndarray:
        """The image as RGB (a copy only when the source delivered BGR)."""
        return self.image if self.order == "RGB" else np.ascontiguousarray(self.image[..., ::-1])


class SourceInfo(NamedTuple):
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
