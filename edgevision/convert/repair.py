"""[TF] Bring an over-budget int8 model back within budget, or say precisely why it cannot be.

Strategies, in the policy's order, stopping at the first that passes the held-out gate:

- ``selective``: rank layers by quantization error (``debug.layer_errors``), then grow the
  set of float layers greedily: for each suspect, try the layer alone, then its "island"
  (``graph.Graph.island``: what must stay float for its output to stay float), keep a
  step only if it helps on the repair images; finally drop every kept layer that is not
  needed. The result is the fewest float layers the search found, honestly named
  ``int8-mixed``.
- ``int16x8``: 16-bit activations with 8-bit weights (256x finer activation steps).

The search is judged on *repair images* (the val split when the gate uses test, else the
calibration images), never on the held-out images the gate uses, so the final gate is
an honest re-validation rather than a number the search was tuned to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgevision.convert.debug import LayerError, layer_errors
from edgevision.convert.graph import Graph, Op, layer_label
from edgevision.convert.policy import RepairPolicy
from edgevision.convert.quantize import convert_int16x8, quantize_int8
from edgevision.errors import BadInput

VARIANT_OF = {"selective": "int8-mixed", "int16x8": "int16x8"}


@dataclass(frozen=True)
class RepairSet:
    """Labelled, already resized images the search is judged on."""

    images: np.ndarray
    labels: np.ndarray
    source: str


@dataclass(frozen=True)
class Trial:
    float_layers: tuple[str, ...]
    accuracy: float
    drop_points: float
    agreement: float
    agrees: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, bool))

    def to_dict(self) -> dict[str, Any]:
        return {"float_layers": len(self.float_layers), "accuracy": round(self.accuracy, 5),
                "drop_points": round(self.drop_points, 3), "agreement": round(self.agreement, 4)}


def significantly_better(a: Trial, b: Trial) -> bool:
    """Does ``a`` agree with the float model on clearly more images than ``b``? (sign test, ~2 sigma)

    Top-1 flips of borderline images are noise; without this test a greedy search keeps
    adding float layers that "help" by one or two images.
    """
    gained = int(np.sum(a.agrees & ~b.agrees))
    lost = int(np.sum(~a.agrees & b.agrees))
    return gained - lost >= max(2.0, 2.0 * np.sqrt(gained + lost))


@dataclass
class Evaluator:
    """Scores candidate model bytes on the repair set against the float model's answers."""

    repair: RepairSet
    float_preds: np.ndarray
    predict: Callable[[bytes], np.ndarray]
    count: int = 0

    @property
    def float_accuracy(self) -> float:
        return float(np.mean(self.float_preds == self.repair.labels))

    def __call__(self, data: bytes, float_layers: Sequence[str] = ()) -> Trial:
        self.count += 1
        preds = self.predict(data)
        acc = float(np.mean(preds == self.repair.labels))
        agrees = preds == self.float_preds
        return Trial(tuple(float_layers), acc, (self.float_accuracy - acc) * 100.0, float(np.mean(agrees)), agrees)


@dataclass
class Outcome:
    """One strategy's result: the model bytes (if it produced one) and its account."""

    strategy: str
    variant: str
    data: bytes | None
    account: dict[str, Any] = field(default_factory=dict)


def match_ops(errors: Sequence[LayerError], graph: Graph) -> list[tuple[LayerError, Op]]:
    """Map the debugger's rows (named in the debug model) to ops of the calibrated model."""
    out = []
    seen_kind: dict[str, int] = {}
    for e in errors_in_model_order(errors):
        k = seen_kind.get(e.op, 0)
        seen_kind[e.op] = k + 1
        op = graph.by_output(e.tensor) or next((o for o in graph.ops if o.output.rstrip("0123456789")
                                                == e.tensor.rstrip("0123456789") and o.kind == e.op), None)
        if op is None:  # rows come in model order: the k-th op of a kind is the k-th row of that kind
            same = [o for o in graph.ops if o.kind == e.op]
            op = same[k] if k < len(same) else None
        if op is not None:
            out.append((e, op))
    return out


def errors_in_model_order(errors: Sequence[LayerError]) -> list[LayerError]:
    return sorted(errors, key=lambda e: e.order)


def selective(calibrated: bytes, io_type: str, errors: Sequence[LayerError], graph: Graph, evaluate: Evaluator,
              policy: RepairPolicy, budget: float, layer_names: Sequence[str] = ()) -> Outcome:
    """Greedy forward search over the worst layers and their islands, then backward pruning."""
    base = evaluate(quantize_int8(calibrated, io_type))
    target = budget * policy.target_fraction
    if base.drop_points <= target:  # the repair images do not show the loss: halve the disagreement instead
        goal = base.agreement + (1.0 - base.agreement) / 2

        def done(t: Trial) -> bool:
            return t.agreement >= goal and t.drop_points <= max(target, 0.0)
        rule = f"agreement >= {goal:.4f} (the repair images show no loss: drop {base.drop_points:.2f})"
    else:
        def done(t: Trial) -> bool:
            return t.drop_points <= target
        rule = f"drop <= {target:.2f} points on the repair images"

    matched = [(e, op) for e, op in match_ops(errors, graph) if op.kind not in ("QUANTIZE", "DEQUANTIZE")]
    ranked = sorted(matched, key=lambda p: (-p[0].channel_error, -p[0].rmse_scale))[:policy.candidates]
    kept: list[str] = []
    best = base
    trials = [{"float_layers": [], **base.to_dict()}]

    def attempt(names: list[str]) -> Trial:
        t = evaluate(quantize_int8(calibrated, io_type, names), names)
        trials.append({"float_layers": list(names), **t.to_dict()})
        return t

    for _err, op in ranked:  # forward: add the worst layer alone, else its island, if that clearly helps
        if done(best) or evaluate.count >= policy.max_trials:
            break
        for cand in ([op], graph.island(op)):
            names = kept + [o.output for o in cand if o.output not in kept]
            if names == kept or len(names) > policy.max_float_layers or evaluate.count >= policy.max_trials:
                continue
            t = attempt(names)
            if significantly_better(t, best):
                kept, best = names, t
                break
    for name in reversed(list(kept)):  # backward: drop every layer the result does not clearly need
        smaller = [k for k in kept if k != name]
        if not smaller or evaluate.count >= policy.max_trials:
            continue
        t = attempt(smaller)
        if not significantly_better(best, t) and (done(t) or not done(best)):
            kept, best = smaller, t
    met = done(best) and bool(kept)
    useful = bool(kept) and significantly_better(best, base)
    account = {
        "strategy": "selective", "goal": rule, "met_goal": met, "trials": len(trials),
        "limits": {"max_float_layers": policy.max_float_layers, "max_trials": policy.max_trials,
                   "candidates": policy.candidates},
        "plain_int8": base.to_dict(), "result": best.to_dict(),
        "float_layers": graph.describe(kept, layer_names), "search": trials,
        "suspects": [{**e.to_dict(), "layer": layer_label(e.tensor, layer_names, e.op),
                      "island": [layer_label(o.output, layer_names, o.kind) for o in graph.island(op)]}
                     for e, op in ranked],
    }
    # a clear improvement that misses the goal on the repair images still goes to the held-out gate
    data = quantize_int8(calibrated, io_type, kept) if useful else None
    return Outcome("selective", VARIANT_OF["selective"], data, account)


def int16x8(model: Any, calibration: np.ndarray, evaluate: Evaluator) -> Outcome:
    try:
        data = convert_int16x8(model, calibration)
    except BadInput as exc:  # an op with no 16-bit kernel (MobileNetV3's HARD_SWISH): the next strategy, or the gate
        reason = str(exc).split(" failed: ", 1)[-1]
        return Outcome("int16x8", VARIANT_OF["int16x8"], None,
                       {"strategy": "int16x8", "skipped": f"TFLite cannot make this model int16x8: {reason}"})
    t = evaluate(data)
    return Outcome("int16x8", VARIANT_OF["int16x8"], data,
                   {"strategy": "int16x8", "met_goal": True, "result": t.to_dict(),
                    "note": "16-bit activations, 8-bit weights, float32 I/O; not Edge TPU compatible"})


def run_strategies(strategies: Sequence[str], *, model: Any, calibrated: bytes, calibration: np.ndarray,
                   io_type: str, evaluate: Evaluator, policy: RepairPolicy, budget: float,
                   judge: Callable[[Outcome], dict[str, Any]], on_status: Callable[[str], None] = print,
                   ) -> tuple[Outcome | None, dict[str, Any]]:
    """Try each strategy until one passes ``judge`` (the held-out gate); return it and the account."""
    account: dict[str, Any] = {"repair_set": {"source": evaluate.repair.source, "images": len(
        evaluate.repair.labels), "float_accuracy": round(evaluate.float_accuracy, 5)}, "strategies": []}
    errors: list[LayerError] = []
    for strategy in strategies:
        if strategy == "selective":
            on_status("measuring per-layer quantization error (TFLite quantization debugger)")
            errors = errors or layer_errors(calibrated, calibration)
            names = [layer.name for layer in getattr(model, "layers", [])]
            account["layer_errors"] = [{**e.to_dict(), "layer": layer_label(e.tensor, names, e.op)}
                                       for e in errors[:10]]
            on_status("searching for the fewest layers to keep in float")
            outcome = selective(calibrated, io_type, errors, Graph.of(calibrated), evaluate, policy, budget, names)
        elif strategy == "int16x8":
            on_status("converting with 16-bit activations (int16x8)")
            outcome = int16x8(model, calibration, evaluate)
        else:  # policy validation keeps this unreachable
            continue
        entry = dict(outcome.account)
        if outcome.data is not None:
            entry["gate"] = judge(outcome)
            entry["passed"] = bool(entry["gate"]["passed"])
        else:
            entry["passed"] = False
        account["strategies"].append(entry)
        if entry["passed"]:
            account["chosen"] = outcome.variant
            return outcome, account
    account["chosen"] = None
    return None, account
