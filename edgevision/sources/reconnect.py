"""How a live source is watched and brought back: the watchdog's policy.

Apart from the capture thread that applies it (:mod:`edgevision.sources.capture`): every run's configuration
carries a policy, while only live sources start that thread.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from typing import NamedTuple


class ReconnectPolicy(NamedTuple):
    """How a live source is watched and brought back. Times in seconds."""

    read_timeout: float = 5.0        # a read (or open) taking longer is declared hung and abandoned
    backoff_initial: float = 0.5     # first wait before reconnecting; doubles up to backoff_max
    backoff_max: float = 10.0
    backoff_factor: float = 2.0
    give_up_after: float | None = None  # stop the pipeline after this long without a frame (None: never)

    def delay(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_initial * self.backoff_factor ** max(0, attempt - 1))

