"""The label event: the runtime's output contract, identical for every sink.

An event has a task-neutral core (which frame, from where, when it was captured and emitted, what
each stage took, how many frames were dropped) and the task's result as its payload
(:class:`~edgevision.runtime.classification.Classification` today). The JSON object puts the
payload's fields beside the core's, so a second task adds fields and renames none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgevision.console import inert_json
from edgevision.runtime.backend import Result
from edgevision.runtime.classification import Classification
from edgevision.runtime.postprocess import Prediction


@dataclass(frozen=True)
class LabelEvent:
    """One processed frame. Field names (here and in :meth:`to_dict`) are a public contract: add, never rename."""

    frame: int
    source: str
    t_capture: float
    t_emit: float
    ms: dict[str, float]
    dropped: int
    result: Result
    infer_on: str = ""  # where ``ms.infer`` was spent when not on this CPU (a sensor)

    @classmethod
    def classified(cls, frame: int, source: str, top_k: tuple[Prediction, ...], t_capture: float, t_emit: float,
                   ms: dict[str, float], dropped: int = 0, infer_on: str = "") -> LabelEvent:
        """An event whose payload is a classification (its top-k, best first)."""
        return cls(frame, source, t_capture, t_emit, ms, dropped, Classification(tuple(top_k)), infer_on)

    # The classification payload's fields, read through the event (what sinks that show a label use).
    @property
    def label(self) -> str:
        return str(getattr(self.result, "label", ""))

    @property
    def score(self) -> float:
        return float(getattr(self.result, "score", 0.0))

    @property
    def index(self) -> int:
        return int(getattr(self.result, "index", -1))

    @property
    def top_k(self) -> tuple[Prediction, ...]:
        return tuple(getattr(self.result, "top_k", ()))

    @property
    def latency_ms(self) -> float:
        """Glass-to-label latency: capture timestamp to emit timestamp."""
        return (self.t_emit - self.t_capture) * 1e3

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame, "source": self.source, **self.result.fields(),
            "t_capture": round(self.t_capture, 6), "t_emit": round(self.t_emit, 6),
            "ms": {k: round(v, 3) for k, v in self.ms.items()}, "dropped": self.dropped,
            "latency_ms": round(self.latency_ms, 3),
            **({"infer_on": self.infer_on} if self.infer_on else {}),
        }

    def to_json(self) -> str:
        """The event as one JSON line, serialised once however many sinks ask (the event is frozen)."""
        cached = self.__dict__.get("_json")
        if cached is None:
            # readable UTF-8, but what acts on a terminal (C1 controls, bidi overrides) escaped as JSON allows;
            # json.dumps escapes every C0 control itself, so ASCII without DEL needs no scan (the common line:
            # the scan would cost a small model's frame ~3 % of its instructions)
            text = json.dumps(self.to_dict(), ensure_ascii=False, separators=(", ", ": "))
            cached = text if text.isascii() and "\x7f" not in text else inert_json(text)
            object.__setattr__(self, "_json", cached)
        return cached
