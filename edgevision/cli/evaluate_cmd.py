"""``edgevision evaluate MODEL DATA``: accuracy, per-class precision/recall/F1 of a .tflite on a dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from edgevision.cli.common import err_console, handle_errors, out_console, print_json


def register(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  edgevision evaluate runs/digits/export/digits_int8.tflite data/digits\n\n"
                        "  edgevision evaluate model.tflite data/digits --split val --json")
    @handle_errors
    def evaluate(
        model: Path = typer.Argument(..., help="A .tflite model file."),
        data: Path = typer.Argument(..., help="Dataset folder (one sub-folder per class, optional splits)."),
        split: str = typer.Option("test", "--split", help="train | val | test (seeded split without folders)."),
        labels: Path | None = typer.Option(None, "--labels", help="Labels file (overrides embedded labels)."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Score a model on a labelled folder through the device runtime."""
        from rich.progress import Progress
        from rich.table import Table

        from edgevision.convert.evaluate import evaluate_model

        with Progress(console=err_console(), transient=True) as prog:
            task = prog.add_task("evaluating", total=None)
            report = evaluate_model(model, data, split, labels, on_image=lambda: prog.advance(task))
        if json_out:
            print_json(report)
            return
        t = Table("class", "precision", "recall", "F1", "support",
                  title=f"{model.name} on {report['count']} {split} images: accuracy {report['accuracy']:.4f}")
        for name, m in report["per_class"].items():
            t.add_row(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
        for avg in ("macro", "weighted"):
            m = report[avg]
            t.add_row(f"[bold]{avg}[/]", f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", "")
        out_console().print(t)
