"""The classification task: its result for one frame, and the post-processor that ranks scores into it.

A label event carries the task's result as its payload; for classification that is the ranked
top-k (empty when every class is below the threshold). Another task (detection, say) adds its own
result type and post-processor beside this one; events, sinks and the pipeline do not change.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from typing import Any, NamedTuple, Protocol

import numpy as np

from edgevision.runtime.backend import Raw, Timed
from edgevision.runtime.postprocess import Prediction
from edgevision.runtime.smoothing import ScoreSmoother


class Classification(NamedTuple):
    """The ranked classes of one frame, best first."""

    top_k: tuple[Prediction, ...]
    kind = "classification"  # the task, for every result (a class attribute, not a field)

    @property
    def label(self) -> str:
        return self.top_k[0].label if self.top_k else ""

    @property
    def score(self) -> float:
        return self.top_k[0].score if self.top_k else 0.0

    @property
    def index(self) -> int:
        return self.top_k[0].index if self.top_k else -1

    def fields(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 6), "index": self.index,
                "top_k": [p.to_dict() for p in self.top_k]}


class Ranks(Protocol):
    """What :class:`Ranking` needs from a backend that classifies."""

    def finish(self, raw: Raw) -> Timed: ...

    def rank(self, scores: np.ndarray, k: int | None = None, threshold: float | None = None) -> list[Prediction]: ...

    def rank_output(self, output: np.ndarray, k: int | None = None,
                    threshold: float | None = None) -> list[Prediction]: ...


class Ranking:
    """Scores -> :class:`Classification`, averaged over the last ``smooth`` frames. An unsmoothed output
    kept as the runtime wrote it is ranked on its integers (``rank_output``: the same predictions as
    ranking its dequantized scores, in fewer calls)."""

    def __init__(self, ranker: Ranks, smooth: int = 1) -> None:
        self.ranker = ranker
        self._smoother = ScoreSmoother(max(1, smooth))

    def __call__(self, output: Raw | Timed) -> Classification:
        if isinstance(output, Raw):
            if self._smoother.window == 1:
                return Classification(tuple(self.ranker.rank_output(output.output)))
            output = self.ranker.finish(output)
        return Classification(tuple(self.ranker.rank(self._smoother.update(output.scores))))

    def reset(self) -> None:
        self._smoother.reset()
