"""Settings the data layer owns and training recipes fill in: augmentation and how to split.

They live here, below ``train/``, so that ``data/`` never imports the recipe that configures it
(imports go one way: train -> data). ``edgevision.train.recipe`` re-exports ``Augment``.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec


@dataclass(frozen=True)
class Augment:
    """Random training-time transforms; 0 disables one."""

    flip: bool = True
    rotation: float = 0.05     # fraction of a full turn, either way
    zoom: float = 0.1          # fraction, in and out
    translate: float = 0.05    # fraction of the size
    brightness: float = 0.1    # fraction of the 0..255 range
    contrast: float = 0.1      # fraction

    def __post_init__(self) -> None:
        for name in ("rotation", "zoom", "translate", "brightness", "contrast"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
                raise BadInput(f"augment.{name} must be a number in [0, 1), got {value!r}")

    @property
    def enabled(self) -> bool:
        return bool(self.flip or self.rotation or self.zoom or self.translate or self.brightness or self.contrast)


@dataclass(frozen=True)
class Split:
    """How a folder without split folders is divided (seeded), and the spec shards must have been resized with."""

    val_fraction: float
    test_fraction: float
    seed: int
    spec: PreprocessSpec
