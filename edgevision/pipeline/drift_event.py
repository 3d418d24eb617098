"""The drift monitor's verdict, as the outputs receive it: apart from the label event, so that a run whose
model carries no reference profile never builds its class (see :mod:`edgevision.pipeline.drift`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgevision.console import inert_json


@dataclass(frozen=True)
class DriftEvent:
    """The drift monitor's verdict on the latest window of frames (a different record from a label event).

    ``state`` is ``ok`` or ``drifting``; ``psi`` the statistic of every signal compared with the reference
    profile, ``moved`` the signals at or over the threshold. The monitor hands one to every sink at each
    evaluation (``changed`` says whether the state flipped); the JSON lines carry only the flips, as objects
    with ``"event": "drift"`` and no ``label`` field, so readers of label events can tell them apart.
    """

    frame: int
    source: str
    t: float
    state: str
    changed: bool
    psi: dict[str, float]
    moved: tuple[str, ...]
    window: int
    threshold: float
    profile: str = ""

    @property
    def drifting(self) -> bool:
        return self.state == "drifting"

    def to_dict(self) -> dict[str, Any]:
        return {"event": "drift", "frame": self.frame, "source": self.source, "t": round(self.t, 6),
                "state": self.state, "moved": list(self.moved),
                "psi": {k: round(v, 4) for k, v in self.psi.items()}, "window": self.window,
                "threshold": self.threshold, "profile": self.profile}

    def to_json(self) -> str:
        return inert_json(json.dumps(self.to_dict(), ensure_ascii=False, separators=(", ", ": ")))
