"""[TF] ``edgevision convert``: run dir -> self-describing .tflite variants, validated on the device path.

The float32 TFLite model is the reference: every quantized variant is scored against it
on the held-out images through the device runtime, and the report says whether the
accuracy drop fits the budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edgevision.bench.latency import bench_model
from edgevision.convert.export import model_card, package
from edgevision.convert.quantize import QUANT_MODES, calibration_set, load_keras, to_tflite
from edgevision.convert.references import card_entries, expected_outputs, pick_references
from edgevision.convert.validate import gate, score_models
from edgevision.errors import BadInput
from edgevision.train.rundir import RunDir, load_run

REPORT_FILE = "convert_report.json"
MAX_CONFUSION_CLASSES = 100  # beyond this the matrix would dwarf the report


@dataclass(frozen=True)
class ConvertOptions:
    """What to produce and how strictly to judge it."""

    quant: str = "int8"            # one of QUANT_MODES, or "all"
    max_drop: float = 1.0          # accuracy budget in percentage points (top-1)
    io: str = "uint8"              # int8 models' input/output type
    calibration_size: int = 200
    split: str | None = None       # held-out split to judge on (default: test, else val)
    labels: Path | None = None
    out: Path | None = None
    threads: int | None = None
    latency_runs: int = 50


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def variant_path(run: RunDir, out: Path, mode: str) -> Path:
    return out / f"{run.name}_{mode}.tflite"


def convert_run(run_dir: str | Path, options: ConvertOptions | None = None,
                console: Console | None = None) -> dict[str, Any]:
    opts = options or ConvertOptions()
    con = console or Console(stderr=True)
    if opts.quant != "all" and opts.quant not in QUANT_MODES:
        raise BadInput(f"--quant {opts.quant}: choose one of {', '.join(QUANT_MODES)} or all")
    if opts.max_drop < 0:
        raise BadInput(f"--max-drop {opts.max_drop}: must be >= 0 percentage points")
    run = load_run(run_dir, opts.labels)
    split, held = (opts.split, run.dataset.split(opts.split)) if opts.split else run.dataset.held_out()
    if not held:
        raise BadInput(f"{run.root}: the {split} split is empty; nothing to validate the conversion on")
    model = load_keras(run.model_path)
    wanted = QUANT_MODES if opts.quant == "all" else (opts.quant,)
    modes = ["float32"] + [m for m in wanted if m != "float32"]
    out = opts.out or run.export_dir
    out.mkdir(parents=True, exist_ok=True)

    calibration: dict[str, Any] = {}
    calib = None
    if "int8" in modes:
        with con.status(f"loading {opts.calibration_size} calibration images (stratified per class)"):
            calib = calibration_set(run.dataset.train, run.spec, opts.calibration_size, run.recipe.get("seed", 0))
        calibration = {"images": len(calib), "source": "train", "stratified": True,
                       "io": opts.io, "seed": int(run.recipe.get("seed", 0))}

    paths: dict[str, Path] = {}
    io_types: dict[str, str] = {}
    for mode in modes:
        with con.status(f"converting to {mode}"):
            flat = to_tflite(model, mode, calib, opts.io)
        io_types[mode] = opts.io if mode == "int8" else "float32"
        card = model_card(run.name, run.spec, run.classes, mode, str(run.recipe.get("name", "")),
                          calibration=calibration if mode == "int8" else None)
        paths[mode] = variant_path(run, out, mode)
        paths[mode].write_bytes(package(flat, card, run.classes, io_types[mode]))

    with _progress(con) as prog:
        task = prog.add_task(f"validating on {len(held)} {split} images", total=len(held))
        scored = score_models(paths, held, run.classes, opts.threads, on_image=lambda: prog.advance(task))

    reference = scored["float32"]
    variants: dict[str, dict[str, Any]] = {}
    gates: dict[str, dict[str, Any]] = {}
    with con.status("measuring latency"):
        for mode in modes:
            lat = bench_model(paths[mode], runs=opts.latency_runs, warmup=5, threads=opts.threads)
            g = gate(reference, scored[mode], opts.max_drop, run.classes) if mode != "float32" else None
            if g is not None:
                gates[mode] = g
            variants[mode] = {"accuracy": round(scored[mode].accuracy, 5), "size_bytes": paths[mode].stat().st_size,
                              "latency_ms": round(lat.invoke.p50, 4), "path": str(paths[mode]),
                              "drop_points": g["drop_points"] if g else 0.0,
                              "agreement": g["agreement"] if g else 1.0, "passed": g["passed"] if g else True}
            if len(run.classes) <= MAX_CONFUSION_CLASSES:
                variants[mode]["confusion"] = scored[mode].report["confusion"]

    primary = "int8" if "int8" in gates else (next(iter(gates)) if gates else "float32")
    main_gate = gates.get(primary)
    refs = pick_references(held, run.classes)
    expected = expected_outputs(refs, paths)
    ref_files = {r.file: r.png for r in refs}
    for mode in modes:  # re-embed the card, now with the validation results and reference outputs
        validation = {"split": split, "images": reference.y_true.size, "accuracy": variants[mode]["accuracy"],
                      "float_accuracy": variants["float32"]["accuracy"], "drop_points": variants[mode]["drop_points"],
                      "agreement": variants[mode]["agreement"], "budget_points": opts.max_drop}
        card = model_card(run.name, run.spec, run.classes, mode, str(run.recipe.get("name", "")), validation,
                          calibration if mode == "int8" else None,
                          card_entries(refs, expected[mode], expected["float32"]))
        flat = paths[mode].read_bytes()
        paths[mode].write_bytes(package(flat, card, run.classes, io_types[mode], ref_files))
        variants[mode]["size_bytes"] = paths[mode].stat().st_size

    report = {
        "model": run.name, "run": str(run.root), "split": split, "images": int(reference.y_true.size),
        "quant": primary, "budget_points": opts.max_drop,
        "passed": all(g["passed"] for g in gates.values()),
        "drop_points": main_gate["drop_points"] if main_gate else 0.0,
        "agreement": main_gate["agreement"] if main_gate else 1.0,
        "variants": variants,
        "per_class": main_gate["per_class"] if main_gate else {},
        "worst_classes": main_gate["worst_classes"] if main_gate else [],
        "calibration": calibration,
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report
