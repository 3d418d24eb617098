"""``edgevision evaluate MODEL [DATA]``: accuracy, per-class precision/recall/F1, confusion, worst pairs.

MODEL is a .tflite (scored through the device runtime, no TensorFlow) or a training run
directory / its model.keras (scored with Keras through the training loader). Either way
the report is saved as JSON with a confusion-matrix PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json, quiet_tensorflow

EPILOG = """Examples:

  edgevision evaluate runs/digits/export/digits_int8.tflite data/digits

  edgevision evaluate model.tflite data/digits --split val --json

  edgevision evaluate runs/digits                       (the run's Keras model on its own test split)

  edgevision evaluate runs/digits data/new-photos --out reports/new   (another labelled folder)
"""


def register(commands: Commands) -> None:
    p = commands.add("evaluate", evaluate, epilog=EPILOG)
    argument(p, "model", help="A .tflite model file, or a training run directory (or its model.keras).")
    argument(p, "data", nargs="?", help="Dataset folder (one sub-folder per class, optional splits) or shard folder; "
             "optional for a run (its own splits).")
    option(p, "--split", help="train | val | test (default: test, else val).")
    option(p, "--labels", kind=Path, help="Labels file (overrides embedded labels).")
    option(p, "--out", kind=Path, help="Folder for the JSON report and the confusion PNG (default: beside the "
                                       "model, evaluation/).")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print JSON.")


@handle_errors
def evaluate(*, model: Path, data: Path | None, split: str | None, labels: Path | None, out: Path | None,
             json_out: bool) -> None:
    """Score a model on labelled images and save the report (JSON + confusion matrix PNG)."""
    from edgevision.errors import BadInput
    from edgevision.train.evaluate import save_evaluation

    if not model.exists():
        raise BadInput(f"{model}: model not found")
    run_dir = model if model.is_dir() else (model.parent if model.suffix == ".keras" else None)
    if run_dir is not None:
        if labels is not None:
            raise BadInput("--labels applies to .tflite files; a run has its own labels.txt")
        quiet_tensorflow()
        from edgevision.train.evaluate import evaluate_run

        with err_console().status("evaluating the Keras model"):
            report = evaluate_run(run_dir, data, split)
        classes = list(report["per_class"])
        target, stem = out or run_dir / "evaluation", f"keras_{report['split']}"
    else:
        if data is None:
            raise BadInput(f"{model}: a .tflite needs a DATA folder to evaluate on")
        report = _tflite(model, data, split or "test", labels)
        classes = list(report["per_class"])
        target, stem = out or model.parent / "evaluation", f"{model.stem}_{report['split']}"
    files = save_evaluation(report, classes, target, stem,
                            f"{Path(report['model']).name}, {report['split']} ({report['count']} images)")
    report["files"] = files
    if json_out:
        print_json(report)
        return
    _show(report, model)


def _tflite(model: Path, data: Path, split: str, labels: Path | None) -> dict[str, Any]:
    from rich.progress import Progress

    from edgevision.convert.score_tflite import evaluate_model

    with Progress(console=err_console(), transient=True) as prog:
        task = prog.add_task("evaluating", total=None)
        return evaluate_model(model, data, split, labels, on_image=lambda: prog.advance(task))


def _show(report: dict[str, Any], model: Path) -> None:
    from rich.table import Table

    from edgevision.console import inert
    from edgevision.console import inert_markup as e

    con = out_console()
    title = f"{e(model.name)} on {report['count']} {e(report['split'])} images: accuracy {report['accuracy']:.4f}"
    if "top5_accuracy" in report:
        title += f", top-5 {report['top5_accuracy']:.4f}"
    t = Table("class", "precision", "recall", "F1", "support", title=title)
    for name, m in report["per_class"].items():
        t.add_row(e(name), f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
    for avg in ("macro", "weighted"):
        m = report[avg]
        t.add_row(f"[bold]{avg}[/]", f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", "")
    con.print(t)
    worst = report.get("worst_confusions") or []
    if worst:
        w = Table("true", "predicted as", "images", title="most confused pairs")
        for pair in worst:
            w.add_row(e(pair["true"]), e(pair["predicted"]), str(pair["count"]))
        con.print(w)
    con.print(inert("saved: " + ", ".join(report["files"].values())), markup=False, highlight=False)
