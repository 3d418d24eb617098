"""The label event: the runtime's output contract, identical for every sink."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgevision.runtime.postprocess import Prediction


@dataclass(frozen=True)
class LabelEvent:
    """One classified frame. Field names are a public contract: add, never rename."""

    frame: int
    source: str
    label: str
    score: float
    index: int
    top_k: tuple[Prediction, ...]
    t_capture: float
    t_emit: float
    ms: dict[str, float]
    dropped: int
    infer_on: str = ""  # where ``ms.infer`` was spent when not on this CPU ("imx500": on the sensor)

    @property
    def latency_ms(self) -> float:
        """Glass-to-label latency: capture timestamp to emit timestamp."""
        return (self.t_emit - self.t_capture) * 1e3

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame, "source": self.source, "label": self.label, "score": round(self.score, 6),
            "index": self.index, "top_k": [p.to_dict() for p in self.top_k],
            "t_capture": round(self.t_capture, 6), "t_emit": round(self.t_emit, 6),
            "ms": {k: round(v, 3) for k, v in self.ms.items()}, "dropped": self.dropped,
            "latency_ms": round(self.latency_ms, 3),
            **({"infer_on": self.infer_on} if self.infer_on else {}),
        }

    def to_json(self) -> str:
        """The event as one JSON line, serialised once however many sinks ask (the event is frozen)."""
        cached = self.__dict__.get("_json")
        if cached is None:
            cached = json.dumps(self.to_dict(), ensure_ascii=False, separators=(", ", ": "))
            object.__setattr__(self, "_json", cached)
        return cached
