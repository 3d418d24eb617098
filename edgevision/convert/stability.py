"""The noise floor: how often the float model changes its own top-1 under changes that should not matter.

Agreement between the float and the int8 top-1 means nothing on its own. On photos a
1000-class model is unsure about, the top two scores are nearly tied, and any change of
the pixels — re-encoding the JPEG, a one-pixel shift, the other common resize kernel —
flips some top-1s of the *float* model. Quantization is one more such change. So the float
model is run on each gate image three more times, once per benign change, and the share
of top-1s each change flips is measured; the median of the three is the floor (one unusually
disruptive or unusually gentle change does not set it). The int8
model passes the label-free gate when it changes no more top-1s than the floor plus the
policy's budget, and changes no more photos than the budget allows where the float model is
sure (top-1 ahead by 0.3) and no benign change flips it: that is quantization damage, not a
tie broken the other way. Everything is also reported by the float model's top-1 margin, with
ranking-aware measures beside top-1: top-5 overlap and the KL divergence of the scores.

No TensorFlow here: the views are made with the device's own decode and resize.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.preprocess import resize_to_spec

VIEWS = ("jpeg", "shift", "resize")
VIEW_NOTES = {"jpeg": "the photo re-encoded as JPEG (quality 90)",
              "shift": "the model's input shifted by one pixel (right and down)",
              "resize": "the other common resize kernel"}
JPEG_QUALITY = 90
MARGIN_BINS = (0.0, 0.05, 0.15, 0.3, 0.5, 1.0)  # float top-1 minus top-2 score
TOP_K = 5
SURE_MARGIN = 0.3  # a flip above this margin, on a photo no benign change flips, is quantization damage


def other_kernel(spec: PreprocessSpec) -> str:
    return "area" if spec.resize == "bilinear" else "bilinear"


def benign_views(rgb: np.ndarray, resized: np.ndarray, spec: PreprocessSpec) -> dict[str, np.ndarray]:
    """The model's input under each change that should not matter (``resized`` is the device's own input)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    jpeg = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else rgb
    shifted = np.empty_like(resized)
    shifted[1:, 1:] = resized[:-1, :-1]
    shifted[0, 1:] = resized[0, :-1]
    shifted[:, 0] = shifted[:, 1] if resized.shape[1] > 1 else resized[:, 0]
    shifted[0, 0] = resized[0, 0]
    return {"jpeg": resize_to_spec(np.ascontiguousarray(jpeg), spec), "shift": shifted,
            "resize": resize_to_spec(rgb, replace(spec, resize=other_kernel(spec)))}


def margins(scores: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 score of each row (probabilities: both in 0..1)."""
    if scores.shape[1] < 2:
        return np.ones(len(scores))
    part = np.sort(scores, axis=1)[:, -2:]
    return part[:, 1] - part[:, 0]


def _probabilities(scores: np.ndarray) -> np.ndarray:
    p = np.clip(scores.astype(np.float64), 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / scores.shape[1])


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = TOP_K) -> float:
    """Mean share of the float model's top-k classes that the candidate also ranks in its top-k."""
    k = min(k, a.shape[1])
    ta = np.argsort(-a, axis=1, kind="stable")[:, :k]
    tb = np.argsort(-b, axis=1, kind="stable")[:, :k]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ta, tb, strict=True)]))


def kl_divergence(reference: np.ndarray, candidate: np.ndarray, eps: float = 1e-6) -> float:
    """Mean KL(reference || candidate) of the score distributions, in nats."""
    p = _probabilities(reference)
    q = _probabilities(candidate)
    q = (q + eps) / (1 + eps * q.shape[1])
    return float(np.mean(np.sum(np.where(p > 0, p * (np.log(np.maximum(p, 1e-30)) - np.log(q)), 0.0), axis=1)))


def noise_floor(scores: np.ndarray, views: dict[str, np.ndarray]) -> dict[str, Any]:
    """The float model's own top-1 flips under each benign change, and the floor (their median, in points)."""
    top1 = scores.argmax(axis=1)
    flips = {k: top1 != v.argmax(axis=1) for k, v in views.items()}
    per_view = {k: round(float(f.mean()) * 100, 3) for k, f in flips.items()}
    unstable = np.any(np.stack(list(flips.values())), axis=0) if flips else np.zeros(len(top1), bool)
    return {"images": len(top1), "per_view_points": per_view,
            "floor_points": round(float(np.median(list(per_view.values()))), 3) if per_view else 0.0,
            "unstable_points": round(float(unstable.mean()) * 100, 3),
            "views": {k: VIEW_NOTES[k] for k in views}, "_flips": flips}


def margin_bins(ref_scores: np.ndarray, flips: np.ndarray, view_flips: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per margin bin of the float model: images, candidate flips and the float model's own flips (any view)."""
    m = margins(ref_scores)
    any_view = np.any(np.stack(list(view_flips.values())), axis=0) if view_flips else np.zeros(len(m), bool)
    out = []
    for lo, hi in itertools.pairwise(MARGIN_BINS):
        mask = (m >= lo) & ((m < hi) if hi < MARGIN_BINS[-1] else (m <= hi))
        n = int(mask.sum())
        out.append({"margin": f"{lo:.2f}–{hi:.2f}", "images": n, "flips": int(flips[mask].sum()),
                    "float_flips": int(any_view[mask].sum())})
    return out


def agreement_gate(ref_scores: np.ndarray, cand_scores: np.ndarray, floor: dict[str, Any], budget_points: float,
                   reference: str = "float32", candidate: str = "int8") -> dict[str, Any]:
    """The label-free gate: int8's top-1 changes against the float model's own floor plus the budget, and no
    more *damage* than the budget allows: changes on photos the float model is sure of (margin >= 0.3) and
    that no benign change flips — those are not ties being broken the other way."""
    ref_top1, cand_top1 = ref_scores.argmax(axis=1), cand_scores.argmax(axis=1)
    flips = ref_top1 != cand_top1
    disagreement = float(flips.mean()) * 100
    limit = floor["floor_points"] + budget_points
    bins = margin_bins(ref_scores, flips, floor["_flips"])
    sure = margins(ref_scores) >= SURE_MARGIN
    views = floor["_flips"]
    steady = ~np.any(np.stack(list(views.values())), axis=0) if views else np.ones(len(flips), bool)
    damage = int((flips & sure & steady).sum())
    allowed = int(budget_points / 100 * len(flips) + 1e-9)
    return {"kind": "agreement", "budget_points": budget_points, "floor_points": floor["floor_points"],
            "limit_points": round(limit, 3),
            "passed": disagreement <= limit + 1e-9 and damage <= allowed,
            "within_floor": disagreement <= floor["floor_points"] + 1e-9 and damage == 0,
            "disagreement_points": round(disagreement, 3), "drop_points": round(disagreement, 3),
            "agreement": round(1 - disagreement / 100, 4), "reference": reference, "candidate": candidate,
            "top5_overlap": round(top_k_overlap(ref_scores, cand_scores), 4),
            "kl_divergence": float(f"{kl_divergence(ref_scores, cand_scores):.4g}"),
            "sure_flips": int(flips[sure].sum()), "damage": damage, "damage_allowed": allowed,
            "margin_bins": bins, "images": len(flips), "per_class": {}, "worst_classes": []}


def public(floor: dict[str, Any]) -> dict[str, Any]:
    """The floor without its per-image arrays (for reports and JSON)."""
    return {k: v for k, v in floor.items() if not k.startswith("_")}


def verdict(gate: dict[str, Any]) -> str:
    """One plain sentence for the gate's result."""
    if gate.get("kind") == "agreement":
        text = (f"int8 changes {gate['disagreement_points']:.2f}% of the float model's top-1s; the float model "
                f"itself changes {gate['floor_points']:.2f}% (median) under changes that should not matter, so the "
                f"limit is {gate['floor_points']:.2f} + budget {gate['budget_points']} = {gate['limit_points']:.2f}")
        if gate.get("damage"):
            text += (f"; {gate['damage']} change(s) on photos the float model is sure of and no benign change flips "
                     f"(allowed: {gate['damage_allowed']})")
        return text
    return f"accuracy drop {gate['drop_points']:.2f} points (budget {gate['budget_points']})"


def stability_rows(gate: dict[str, Any]) -> list[tuple[str, ...]]:
    """Rows of the margin-bin table: margin, images, candidate flips, float's own flips."""
    return [(b["margin"], str(b["images"]), str(b["flips"]), str(b["float_flips"])) for b in gate["margin_bins"]]


def summarize(floor: dict[str, Any], names: Sequence[str] = VIEWS) -> str:
    """'jpeg 1.7%, shift 3.3%, resize 5.0%' for a status line."""
    return ", ".join(f"{k} {floor['per_view_points'][k]:.1f}%" for k in names if k in floor["per_view_points"])
