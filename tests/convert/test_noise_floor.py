"""The label-free gate: int8 is judged against the float model's own flips under changes that should not matter.

These tests use score arrays built here (the arithmetic of the gate) and the device's own image path for the
benign views; the gate on real converted models is in test_brought.py."""

from __future__ import annotations

import numpy as np
import pytest

from edgevision.convert.judge import floor_note, judge
from edgevision.convert.stability import (
    agreement_gate,
    benign_views,
    kl_divergence,
    margins,
    noise_floor,
    public,
    top_k_overlap,
    verdict,
)
from edgevision.convert.validate import Scored
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.images import read_image
from edgevision.runtime.preprocess import resize_to_spec
from tests.conftest import SIGN_DIGITS


def _scores(top1: np.ndarray, classes: int, margin: np.ndarray) -> np.ndarray:
    """Probability rows whose top-1 is ``top1`` with the given top-1 minus top-2 margin."""
    n = len(top1)
    rest = (1.0 - margin) / 2
    s = np.full((n, classes), 0.0)
    second = (top1 + 1) % classes
    s[np.arange(n), top1] = rest + margin
    s[np.arange(n), second] = rest
    return s


def _flip(top1: np.ndarray, which: np.ndarray, classes: int) -> np.ndarray:
    out = top1.copy()
    out[which] = (out[which] + 1) % classes
    return out


def test_the_floor_is_the_median_share_a_benign_change_flips() -> None:
    rng = np.random.default_rng(0)
    top1 = rng.integers(0, 10, 100)
    ref = _scores(top1, 10, np.full(100, 0.2))
    views = {"jpeg": _scores(_flip(top1, np.arange(100) < 3, 10), 10, np.full(100, 0.2)),
             "shift": _scores(_flip(top1, np.arange(100) < 8, 10), 10, np.full(100, 0.2)),
             "resize": _scores(_flip(top1, (np.arange(100) >= 5) & (np.arange(100) < 10), 10), 10, np.full(100, 0.2))}
    floor = noise_floor(ref, views)
    assert floor["per_view_points"] == {"jpeg": 3.0, "shift": 8.0, "resize": 5.0}
    assert floor["floor_points"] == 5.0 and floor["unstable_points"] == 10.0
    assert "_flips" not in public(floor) and public(floor)["images"] == 100


def test_the_same_disagreement_passes_over_an_unstable_float_model_and_fails_over_a_stable_one() -> None:
    n, classes = 120, 1000
    top1 = np.arange(n) % classes
    ref = _scores(top1, classes, np.full(n, 0.02))       # unsure photos: near-ties everywhere
    int8 = _scores(_flip(top1, np.arange(n) < 12, classes), classes, np.full(n, 0.02))  # 10 % flipped
    unstable = noise_floor(ref, {"shift": _scores(_flip(top1, np.arange(n) < 11, classes), classes, np.full(n, .02))})
    stable = noise_floor(ref, {"shift": ref.copy()})
    loose, strict = agreement_gate(ref, int8, unstable, 2.0), agreement_gate(ref, int8, stable, 2.0)
    assert loose["disagreement_points"] == strict["disagreement_points"] == 10.0
    assert loose["passed"] and loose["limit_points"] == pytest.approx(11.1667, abs=1e-3)
    assert not strict["passed"] and strict["limit_points"] == 2.0
    assert not loose["within_floor"]  # 10.0 > 9.17: over the floor itself, inside the budget on top of it
    assert "9.17" in verdict(loose) and "should not matter" in verdict(loose) and "median" in verdict(loose)


def test_flips_are_reported_by_the_float_models_margin() -> None:
    n = 50
    top1 = np.zeros(n, int)
    margin = np.where(np.arange(n) < 40, 0.01, 0.9)   # 40 near-ties, 10 sure
    ref = _scores(top1, 5, margin)
    flipped = (np.arange(n) < 4) | (np.arange(n) == 45)  # four ties flip, and one sure image
    cand = ref.copy()
    cand[flipped] = _scores(_flip(top1, flipped, 5), 5, margin)[flipped]
    g = agreement_gate(ref, cand, noise_floor(ref, {"jpeg": ref}), 2.0)
    bins = {b["margin"]: b for b in g["margin_bins"]}
    assert bins["0.00–0.05"]["images"] == 40 and bins["0.00–0.05"]["flips"] == 4
    assert bins["0.50–1.00"]["images"] == 10 and bins["0.50–1.00"]["flips"] == 1
    assert g["sure_flips"] == 1 and sum(b["images"] for b in g["margin_bins"]) == n
    np.testing.assert_allclose(margins(ref), margin, atol=1e-9)


def test_ranking_measures() -> None:
    a = np.array([[0.5, 0.2, 0.1, 0.1, 0.05, 0.05, 0.0]])
    assert top_k_overlap(a, a) == 1.0 and kl_divergence(a, a) == pytest.approx(0.0, abs=1e-5)
    b = a[:, ::-1].copy()
    assert top_k_overlap(a, b) < 1.0 and kl_divergence(a, b) > 1.0


def test_benign_views_are_small_changes_of_the_device_input() -> None:
    rgb = read_image(SIGN_DIGITS / "test" / "3" / sorted(p.name for p in (SIGN_DIGITS / "test" / "3").iterdir())[0])
    spec = PreprocessSpec(width=64, height=48, crop="center", resize="bilinear")
    base = resize_to_spec(rgb, spec)
    views = benign_views(rgb, base, spec)
    assert set(views) == {"jpeg", "shift", "resize"}
    for kind, v in views.items():
        assert v.shape == base.shape and v.dtype == np.uint8
        diff = np.abs(v.astype(int) - base.astype(int)).mean()
        assert 0 < diff < (20 if kind == "shift" else 4)  # changed, but only a little (a shift moves every edge)
    np.testing.assert_array_equal(views["shift"][1:, 1:], base[:-1, :-1])  # one pixel right and down


def test_with_labels_the_accuracy_gate_decides_and_the_floor_is_reported() -> None:
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    ref_scores = _scores(truth, 3, np.full(8, 0.05))
    cand_top1 = _flip(truth, np.arange(8) == 0, 3)
    cand_scores = _scores(cand_top1, 3, np.full(8, 0.05))
    ref = Scored("float32", "f", truth, truth.copy(), {"accuracy": 1.0}, ref_scores)
    cand = Scored("int8", "q", truth, cand_top1, {"accuracy": 7 / 8}, cand_scores)
    floor = noise_floor(ref_scores, {"shift": _scores(_flip(truth, np.arange(8) < 2, 3), 3, np.full(8, 0.05))})
    g = judge(ref, cand, 2.0, ("a", "b", "c"), floor, "accuracy")
    assert g["kind"] == "accuracy" and not g["passed"] and g["drop_points"] == 12.5
    assert g["within_floor"] and g["stability"]["floor_points"] == 25.0  # the float model flips 2 of 8 itself
    assert "repair not tried" in floor_note(g) and "--max-drop" in floor_note(g)
    a = judge(ref, cand, 2.0, ("a", "b", "c"), floor, "agreement")
    assert a["kind"] == "agreement" and a["passed"]


def test_changes_where_the_float_model_is_sure_and_steady_fail_even_under_a_high_floor() -> None:
    """A high floor (unsure photos) must not hide damage: a flip on a photo the float model is sure of and that
    no benign change flips is quantization damage, allowed only within the budget's share of photos."""
    n, classes = 100, 10
    top1 = np.arange(n) % classes
    margin = np.where(np.arange(n) < 60, 0.01, 0.8)          # 60 near-ties, 40 sure photos
    ref = _scores(top1, classes, margin)
    floor = noise_floor(ref, {"shift": _scores(_flip(top1, np.arange(n) < 30, classes), classes, margin)})
    ties = _scores(_flip(top1, np.arange(n) < 20, classes), classes, margin)             # 20 ties broken
    assert agreement_gate(ref, ties, floor, 2.0)["passed"]
    damaged = _flip(top1, (np.arange(n) < 10) | ((np.arange(n) >= 60) & (np.arange(n) < 63)), classes)
    g = agreement_gate(ref, _scores(damaged, classes, margin), floor, 2.0)
    assert g["disagreement_points"] == 13.0 < g["limit_points"] == 32.0   # well within floor + budget ...
    assert g["damage"] == 3 and g["damage_allowed"] == 2 and not g["passed"]  # ... but 3 sure photos changed
    assert "sure of" in verdict(g) and not g["within_floor"]
