"""How the drift monitor judges (:mod:`edgevision.pipeline.drift`), apart from it: reading the run options
(``edgevision run --help``) needs these defaults, not NumPy or OpenCV."""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from pathlib import Path
from typing import NamedTuple

from edgevision.errors import BadInput
from edgevision.model.profile_signals import LABELS, SIGNALS


class DriftConfig(NamedTuple):
    """How the drift monitor judges a window (the defaults are the benchmark's choice)."""

    enabled: bool = True               # watch when a profile is at hand (the model's, or ``profile``)
    profile: Path | None = None        # a profile file to use instead of the model's own
    window: int = 100                  # frames in the rolling window
    min_frames: int = 50               # no verdict before the window holds this many frames
    every: int = 5                     # judge every N frames
    threshold: float = 2.0             # PSI at which a signal raises the state
    release: float = 0.5               # back to ok when every signal is below threshold × release
    fence: float = 3.0                 # input statistics: in range within q25 - fence x IQR .. q75 + fence x IQR
    confidence_fence: float = 1.5      # the same for the top-1 confidence (Tukey's outlier fence)
    beyond: float = 1.0                # ... but never more than this many IQR beyond the reference's extremes
    alarm: tuple[str, ...] = SIGNALS   # signals that may raise the state (LABELS may be added)
    state_file: Path | None = None     # where the latest state is kept for ``device status`` (a service)

    def check(self) -> None:
        if not 2 <= self.window <= 1_000_000 or not 1 <= self.min_frames <= self.window or self.every < 1:
            raise BadInput(f"drift window {self.window}, minimum {self.min_frames}: need 2 <= minimum <= window")
        if not self.threshold > 0 or not 0 < self.release <= 1 or self.fence < 0 or self.confidence_fence < 0 \
                or self.beyond < 0:
            raise BadInput("drift: threshold > 0, release in (0, 1], fences >= 0")
        unknown = set(self.alarm) - {*SIGNALS, LABELS}
        if unknown:
            raise BadInput(f"drift: unknown signal(s) {', '.join(sorted(unknown))}")


