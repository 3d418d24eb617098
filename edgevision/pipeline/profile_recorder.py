"""Record a reference profile from frames a person knows are good (``edgevision device baseline``).

A model brought without images has no profile from the converter; a device can measure one from its own
camera instead, over a period when the model works: the same signals the drift monitor compares, frame
by frame. It is a sink that wants frames, added to an ordinary run.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgevision.model.profile_signals import CONFIDENCE, INPUT_SIGNALS
from edgevision.model.reference_profile import ReferenceProfile, build_profile
from edgevision.pipeline.events import LabelEvent
from edgevision.runtime.frames import Frame
from edgevision.runtime.input_stats import input_stats


class ProfileRecorder:
    """Collects each frame's confidence, label and input statistics (at most ``limit`` frames)."""

    wants_frames = True
    name = "baseline"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.values: dict[str, list[float]] = {name: [] for name in (CONFIDENCE, *INPUT_SIGNALS)}
        self.labels: list[int] = []

    @property
    def frames(self) -> int:
        return len(self.labels)

    @property
    def done(self) -> bool:
        return self.frames >= self.limit

    def emit(self, event: LabelEvent, frame: Frame | None = None) -> None:
        if self.done:
            return
        top = event.top_k
        self.values[CONFIDENCE].append(top[0].score if top else event.score)
        if frame is not None and frame.image is not None:
            for name, value in zip(INPUT_SIGNALS, input_stats(frame.image, frame.order), strict=True):
                self.values[name].append(value)
        self.labels.append(event.index)

    def profile(self, labels: Sequence[str], origin: str) -> ReferenceProfile:
        return build_profile(self.values, self.labels, labels, origin)

    def close(self) -> None:
        pass
