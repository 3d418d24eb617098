"""[TF] ``edgevision convert``: run dir -> self-describing .tflite variants, validated on the device path.

The float32 TFLite model is the reference: every quantized variant is scored against it
on the held-out images through the device runtime, and the report says whether the
accuracy drop fits the policy's budget. An int8 model over budget is repaired
(``repair.py``) when the policy allows, and every file is named for what it really is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edgevision.bench.latency import bench_model
from edgevision.convert.calibration import CalibrationSet, load_calibration
from edgevision.convert.export import package
from edgevision.convert.field_profile import field_profiles
from edgevision.convert.judge import GATES, floor_note, judge, stability_of
from edgevision.convert.policy import Policy, load_policy
from edgevision.convert.quantize import QUANT_MODES, calibrate, check_static, convert_float, quantize_int8
from edgevision.convert.reference_images import card_entries, expected_outputs, pick_references
from edgevision.convert.repair import Outcome
from edgevision.convert.repair_run import RepairJob, card_repair, repair_conversion
from edgevision.convert.stability import noise_floor, public, verdict
from edgevision.convert.targets import check_quant, exclusive_target
from edgevision.convert.validate import Scored, score_models
from edgevision.convert.variants import Variants, held_out, load_images
from edgevision.errors import BadInput
from edgevision.train.rundir import RunDir, load_keras, load_run

REPORT_FILE = "convert_report.json"
MAX_CONFUSION_CLASSES = 100  # beyond this the matrix would dwarf the report


@dataclass(frozen=True)
class ConvertOptions:
    """What to produce and how strictly to judge it; None means "as the policy says"."""

    quant: str | None = None          # one of QUANT_MODES, or "all"
    max_drop: float | None = None     # accuracy budget in percentage points (top-1)
    io: str | None = None             # int8 models' input/output type
    calibration_size: int | None = None
    split: str | None = None          # held-out split to judge on (default: test, else val)
    labels: Path | None = None
    out: Path | None = None
    threads: int | None = None
    latency_runs: int = 50
    policy: str | Path | None = None  # name in convert/ or a TOML path
    repair: bool | None = None        # False: report over-budget int8 without trying to repair it
    targets: tuple[str, ...] | None = None
    formats: tuple[str, ...] | None = None
    gate: str = "accuracy"            # accuracy (labels) | agreement (no labels: against the noise floor)


def _check_flags(opts: ConvertOptions) -> None:
    """Name the flag, not the policy, when a command-line value is wrong."""
    from edgevision.convert.policy import FORMATS, IO_TYPES, QUANT_CHOICES, TARGETS

    for flag, values, allowed in (("--quant", [opts.quant], QUANT_CHOICES), ("--io", [opts.io], IO_TYPES),
                                  ("--target", list(opts.targets or ()), TARGETS),
                                  ("--format", list(opts.formats or ()), FORMATS)):
        for value in values:
            if value is not None and value not in allowed:
                raise BadInput(f"{flag} {value}: choose one of {', '.join(allowed)}")
    if opts.max_drop is not None and opts.max_drop < 0:
        raise BadInput(f"--max-drop {opts.max_drop}: must be >= 0 percentage points")
    if opts.gate not in GATES:
        raise BadInput(f"gate {opts.gate!r}: choose one of {', '.join(GATES)}")
    if opts.calibration_size is not None and opts.calibration_size < 1:
        raise BadInput(f"--calibration-size {opts.calibration_size}: must be at least 1")


def resolve_policy(opts: ConvertOptions) -> Policy:
    _check_flags(opts)
    pol = load_policy(opts.policy).override(quant=opts.quant, max_drop=opts.max_drop, io=opts.io,
                                            calibration_size=opts.calibration_size, split=opts.split,
                                            targets=opts.targets, formats=opts.formats)
    if opts.repair is False:
        pol = pol.override(repair=type(pol.repair)(strategies=()))
    return pol


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _bar(con: Console, description: str, total: int, work: Callable[[Callable[[], None]], Any]) -> Any:
    with _progress(con) as prog:
        task = prog.add_task(description, total=total)
        return work(lambda: prog.advance(task))


def convert_run(run_dir: str | Path, options: ConvertOptions | None = None,
                console: Console | None = None) -> dict[str, Any]:
    opts = options or ConvertOptions()
    con = console or Console(stderr=True)
    pol = resolve_policy(opts)
    own = exclusive_target(pol.targets)
    if own is not None:  # a network made by the target's own toolchain (in its own venv), not a .tflite
        return own.load().convert_run(run_dir, opts, pol, con)  # type: ignore[no-any-return]
    check_quant(pol.targets, pol.quant)
    if "onnx" in pol.formats:
        from edgevision.convert.onnx_export import check_available

        check_available()
    run = load_run(run_dir, opts.labels)
    held_out(run, pol.split)  # an empty split is one line before the slow Keras load
    model = load_keras(run.model_path)
    check_static(model, str(run.model_path))
    return convert_loaded(run, model, pol, opts, con)


def convert_loaded(run: RunDir, model: Any, pol: Policy, opts: ConvertOptions, con: Console) -> dict[str, Any]:
    """Everything after loading: the same for a trained run and for a model the user brought
    (``convert/frontends``), which arrives as a RunDir-shaped description plus a model object."""
    split, held = held_out(run, pol.split)
    modes = ["float32"] + [m for m in (QUANT_MODES if pol.quant == "all" else (pol.quant,)) if m != "float32"]
    out = opts.out or run.export_dir
    out.mkdir(parents=True, exist_ok=True)

    calib: CalibrationSet | None = None
    if "int8" in modes:
        seed = int(run.recipe.get("seed", 0))
        calib = _bar(con, f"loading calibration images (stratified, {pol.calibration_size} asked)",
                     min(pol.calibration_size, len(run.dataset.train)) or 1,
                     lambda tick: load_calibration(run.dataset.train, run.spec, pol.calibration_size, run.classes,
                                                   seed, "train", tick))
    v = Variants(run, out, {**(calib.record if calib else {}), "io": pol.io})
    calibrated = b""
    made: dict[str, str] = {}  # mode -> the variant's measured name (int8 with float ops is "int8-mixed")
    for mode in modes:
        if mode == "int8" and calib is not None:
            calibrated = _bar(con, "calibrating int8 activation ranges", len(calib),
                              lambda tick: calibrate(model, calib.images, tick, v.flat.get("float32")))
            made[mode] = v.add("int8", quantize_int8(calibrated, pol.io), pol.io)
        else:
            with con.status(f"converting to {mode}"):
                made[mode] = v.add(mode, convert_float(model, mode), "float32")

    scored = _bar(con, f"validating on {len(held)} {split} images (and the float model under benign changes)",
                  len(held), lambda tick: score_models(dict(v.paths), held, run.classes, opts.threads, on_image=tick,
                                                       reference="float32"))
    reference = scored["float32"]
    assert reference.scores is not None and reference.views is not None
    floor = noise_floor(reference.scores, reference.views)
    gates = {name: judge(reference, s, pol.max_drop, run.classes, floor, opts.gate)
             for name, s in scored.items() if name != "float32"}

    repair_account: dict[str, Any] | None = None
    repaired: Outcome | None = None
    int8_gate = gates.get("int8")
    if int8_gate is not None and not int8_gate["passed"] and calib is not None:
        if int8_gate["within_floor"]:  # nothing a repair changes could be told apart from the float model's noise
            repair_account = {"strategies": [], "chosen": None, "why_not": floor_note(int8_gate),
                              "plain_int8_gate": {k: int8_gate[k] for k in ("drop_points", "agreement",
                                                                             "worst_classes")}}
        else:
            job = RepairJob(run, pol, opts.threads, model, calibrated, calib, held, split, floor, opts.gate)
            repaired, repair_account = repair_conversion(con, job, v, reference, gates, scored)

    variants = _measure(con, v, scored, gates, opts, run)
    primary = repaired.variant if repaired else ("int8" if "int8" in gates else next(iter(gates), "float32"))
    if repaired and "int8" in variants:
        variants["int8"]["superseded_by"] = repaired.variant
    delivered = {k: gates[k] for k in (made.get(m, m) for m in modes) if k in gates and not (repaired and k == "int8")}
    if repaired:
        delivered[repaired.variant] = gates[repaired.variant]
    edgetpu = _edgetpu(con, v, pol) if "int8" in v.paths else None

    refs = pick_references(held, run.classes, input_size=max(run.spec.width, run.spec.height))
    expected = expected_outputs(refs, v.paths)
    ref_files = {r.file: r.png for r in refs}
    profiles = _bar(con, f"measuring the reference profile on {len(held)} {split} images", len(held),
                    lambda tick: field_profiles(v.paths, held, split, opts.threads, tick))
    for name in v.paths:  # re-embed the card, now with the validation results and reference outputs
        validation = {"split": split, "images": int(reference.y_true.size), "accuracy": variants[name]["accuracy"],
                      "float_accuracy": variants["float32"]["accuracy"], "drop_points": variants[name]["drop_points"],
                      "agreement": variants[name]["agreement"], "budget_points": pol.max_drop,
                      "passed": variants[name]["passed"], "policy": pol.name, "gate": opts.gate,
                      "noise_floor_points": floor["floor_points"]}
        if repaired and name == repaired.variant and repair_account:
            validation["repair"] = card_repair(repair_account)
        card = v.card(name, validation, card_entries(refs, expected[name], expected["float32"]))
        v.paths[name].write_bytes(package(v.flat[name], card, run.classes, v.io[name], {**ref_files, **profiles[name]}))
        variants[name]["size_bytes"] = v.paths[name].stat().st_size
        variants[name]["model_bytes"] = len(v.flat[name])  # the flatbuffer alone, without metadata/files
    if edgetpu is not None and "edgetpu" in pol.targets:
        from edgevision.convert.edgetpu import compile_model

        with con.status("running edgetpu_compiler"):
            edgetpu["compiler"] = compile_model(v.paths["int8"], out)
    onnx = _onnx(con, v, run, held, opts) if "onnx" in pol.formats else None

    main_gate = delivered.get(primary)
    report = {
        "model": run.name, "run": str(run.root),
        **({"source": run.run["source"]} if "source" in run.run else {}),  # a model the user brought
        "split": split, "images": int(reference.y_true.size),
        "quant": primary, "policy": pol.to_dict(), "budget_points": pol.max_drop,
        "passed": all(g["passed"] for g in delivered.values()),
        "drop_points": main_gate["drop_points"] if main_gate else 0.0,
        "agreement": main_gate["agreement"] if main_gate else 1.0,
        "variants": variants,
        "per_class": main_gate["per_class"] if main_gate else {},
        "worst_classes": main_gate["worst_classes"] if main_gate else [],
        "calibration": v.calibration if calib else {},
        "gate": opts.gate, "noise_floor": public(floor),
        "stability": stability_of(main_gate) if main_gate else {},
        "verdict": verdict(main_gate) if main_gate else "float32 only: nothing quantized to judge",
        "repair": repair_account, "edgetpu": edgetpu, "onnx": onnx,
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return report


def _measure(con: Console, v: Variants, scored: dict[str, Scored], gates: dict[str, Any], opts: ConvertOptions,
             run: RunDir) -> dict[str, dict[str, Any]]:
    variants: dict[str, dict[str, Any]] = {}
    with con.status("measuring latency"):
        for name, path in v.paths.items():
            lat = bench_model(path, runs=opts.latency_runs, warmup=5, threads=opts.threads)
            g = gates.get(name)
            variants[name] = {"accuracy": round(scored[name].accuracy, 5), "size_bytes": path.stat().st_size,
                              "latency_ms": round(lat.invoke.p50, 4), "path": str(path),
                              "quantization": name, "io": v.io[name],
                              "drop_points": g["drop_points"] if g else 0.0,
                              "agreement": g["agreement"] if g else 1.0, "passed": g["passed"] if g else True}
            if len(run.classes) <= MAX_CONFUSION_CLASSES:
                variants[name]["confusion"] = scored[name].report["confusion"]
    return variants


def _edgetpu(con: Console, v: Variants, pol: Policy) -> dict[str, Any]:
    from edgevision.convert.edgetpu import INSTALL_HINT, readiness

    result = readiness(v.flat["int8"])
    result["model"] = str(v.paths["int8"])
    if "edgetpu" not in pol.targets:
        result["compiler"] = {"ran": False, "message": "not requested (use --target edgetpu or --policy edgetpu); "
                                                       + INSTALL_HINT.split(":", 1)[0]}
    return result


def _onnx(con: Console, v: Variants, run: RunDir, held: Any, opts: ConvertOptions) -> dict[str, Any]:
    from edgevision.convert.onnx_export import export_onnx, verify_onnx

    path = v.out / f"{run.name}_float32.onnx"
    with con.status("exporting ONNX"):
        result = export_onnx(v.paths["float32"], path, run.classes, v.card("float32").to_json())
    images, _ = load_images(held, run)
    with con.status(f"verifying ONNX against TFLite on {len(images)} images (onnxruntime)"):
        result.update(verify_onnx(path, v.paths["float32"], images, opts.threads))
    return result
