"""The gate a conversion is judged by: accuracy on labels, or agreement against the float model's noise floor.

With labels, the accuracy drop decides (``validate.gate``) and the stability measures are
reported beside it. Without labels, int8's top-1 changes are judged against the float
model's own flips under benign changes plus the budget (``stability.agreement_gate``).
Either way the result says whether int8 is already within the floor: repair never runs then,
because no change to the quantization can be told apart from the float model's own noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgevision.convert.stability import agreement_gate
from edgevision.convert.validate import Scored, gate

GATES = ("accuracy", "agreement")
STABILITY_KEYS = ("floor_points", "disagreement_points", "within_floor", "top5_overlap", "kl_divergence",
                  "sure_flips", "damage", "damage_allowed", "margin_bins")


def judge(reference: Scored, candidate: Scored, budget_points: float, classes: Sequence[str], floor: dict[str, Any],
          kind: str = "accuracy") -> dict[str, Any]:
    """The gate of one candidate against the float reference (both scored with ``keep_scores``)."""
    assert reference.scores is not None and candidate.scores is not None
    detail = agreement_gate(reference.scores, candidate.scores, floor, budget_points, reference.name, candidate.name)
    if kind == "agreement":
        return detail
    g = gate(reference, candidate, budget_points, classes)
    g["kind"] = "accuracy"
    g["within_floor"] = detail["within_floor"]
    g["stability"] = {k: detail[k] for k in STABILITY_KEYS}
    return g


def floor_note(g: dict[str, Any]) -> str:
    """Why repair was not tried: int8 is within the float model's own noise floor."""
    stab = g.get("stability", g)
    return (f"repair not tried: int8 changes {stab['disagreement_points']:.2f}% of the float model's top-1s, within "
            f"the float model's own noise floor of {stab['floor_points']:.2f}% on these images (changes that should "
            "not matter flip as many); no quantization change can be told apart from that noise here — judge on "
            "more images" + (" or with a larger --max-drop" if g.get("kind") == "accuracy" else ""))


def stability_of(g: dict[str, Any]) -> dict[str, Any]:
    """The stability measures of a gate result, whichever kind it is."""
    return dict(g["stability"]) if "stability" in g else {k: g[k] for k in STABILITY_KEYS}
