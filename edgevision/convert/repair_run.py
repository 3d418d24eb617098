"""[TF] Wire the repair strategies into a conversion: repair set, evaluator, held-out judge, account.

Kept apart from ``runner.py`` so the runner reads as the conversion's outline; this is
the part that only runs when int8 is over budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from edgevision.convert.calibration import CalibrationSet
from edgevision.convert.judge import judge as judge_gate
from edgevision.convert.policy import Policy
from edgevision.convert.repair import Evaluator, Outcome, RepairSet, run_strategies
from edgevision.convert.validate import Scored, in_memory_model, predict_resized, score_models
from edgevision.convert.variants import Variants, load_images
from edgevision.train.rundir import RunDir


@dataclass(frozen=True)
class RepairJob:
    """What the conversion hands to the repair step: the run, its policy, the Keras model and its calibration."""

    run: RunDir
    pol: Policy
    threads: int | None
    model: Any                 # the Keras model
    calibrated: bytes          # the calibrated (not yet quantized) converter output
    calib: CalibrationSet
    held: Any                  # the held-out samples the gate judges on
    split: str
    floor: dict[str, Any]      # the float model's noise floor on those samples (stability.noise_floor)
    gate: str = "accuracy"     # judge.GATES


def repair_conversion(con: Console, job: RepairJob, v: Variants, reference: Scored, gates: dict[str, Any],
                      scored: dict[str, Scored]) -> tuple[Outcome | None, dict[str, Any]]:
    """Try the policy's repair strategies on an over-budget int8 model; new variants go into ``v`` and the tables."""
    run, pol, model, calibrated, calib, held, split = (job.run, job.pol, job.model, job.calibrated, job.calib,
                                                       job.held, job.split)
    strategies = list(pol.repair.strategies)
    skipped = []
    if "edgetpu" in pol.targets:  # float layers and int16 activations cannot run on the Edge TPU
        skipped = [{"strategy": s, "skipped": "the Edge TPU target needs a model that is int8 end to end"}
                   for s in strategies]
        strategies = []
    if split == "test" and run.dataset.val:
        images, labels = load_images(run.dataset.val, run)
        source = "val"
    else:
        images, labels, source = calib.images, calib.labels, "calibration images (train)"
    repair_set = RepairSet(images, labels, source)
    card = v.card("int8")
    evaluate = Evaluator(repair_set, predict_resized(v.paths["float32"], images, job.threads),
                         lambda data: predict_resized(in_memory_model(data, card, run.classes), images, job.threads))

    def judge(outcome: Outcome) -> dict[str, Any]:
        assert outcome.data is not None
        name = v.add(outcome.strategy if outcome.strategy == "int16x8" else "int8", outcome.data,
                     "float32" if outcome.strategy == "int16x8" else pol.io)
        outcome.variant = name
        with con.status(f"validating {name} on {len(held)} {split} images"):
            scored[name] = score_models({name: v.paths[name]}, held, run.classes, job.threads, keep_scores=True)[name]
        gates[name] = judge_gate(reference, scored[name], pol.max_drop, run.classes, job.floor, job.gate)
        return {k: gates[name][k] for k in ("passed", "drop_points", "agreement", "worst_classes")}

    def status(message: str) -> None:
        con.print(f"[yellow]int8 is over budget[/] ({gates['int8']['drop_points']:.2f} > {pol.max_drop} points): "
                  f"{message}")

    if not strategies:
        account: dict[str, Any] = {"strategies": skipped, "chosen": None}
        outcome = None
    else:
        outcome, account = run_strategies(strategies, model=model, calibrated=calibrated, calibration=calib.images,
                                          io_type=pol.io, evaluate=evaluate, policy=pol.repair,
                                          budget=pol.max_drop, judge=judge, on_status=status)
        account["strategies"] = skipped + account["strategies"]
    account["plain_int8_gate"] = {k: gates["int8"][k] for k in ("drop_points", "agreement", "worst_classes")}
    account["why_not"] = None if outcome else _why_not(account, pol)
    return outcome, account


def _why_not(account: dict[str, Any], pol: Policy) -> str:
    tried = [s for s in account["strategies"] if "skipped" not in s]
    if not tried:
        reason = account["strategies"][0]["skipped"] if account["strategies"] else "repair is off (--no-repair " \
                                                                                     "or the policy has no strategies)"
        return (f"no repair was attempted: {reason}. Options: a larger --calibration-size, quantization-aware "
                "training, a larger --max-drop, or ship the float16 model")
    parts = []
    for s in tried:
        res = s.get("gate") or s.get("result") or {}
        parts.append(f"{s['strategy']}: {'met its search goal but ' if s.get('met_goal') else ''}drop "
                     f"{res.get('drop_points', '?')} points" + ("" if s.get("met_goal") else
                                                                 " (goal not met within the policy's limits)"))
    return (f"no strategy brought the drop within {pol.max_drop} points — " + "; ".join(parts) +
            ". Options: raise repair.max_float_layers / max_trials in the policy, quantization-aware training, "
            "or ship the float16 model")


def card_repair(account: dict[str, Any]) -> dict[str, Any]:
    chosen = next((s for s in account["strategies"] if s.get("passed")), {})
    return {"strategy": chosen.get("strategy"), "float_layers": chosen.get("float_layers", []),
            "plain_int8_drop_points": account["plain_int8_gate"]["drop_points"]}
