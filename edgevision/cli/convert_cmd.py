"""``edgevision convert RUN``: quantize, validate through the device runtime, gate the drop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from edgevision.cli.common import (
    EXIT_CHECK_FAILED,
    err_console,
    handle_errors,
    out_console,
    print_json,
    quiet_tensorflow,
)


def register(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  edgevision convert runs/flowers\n\n"
                        "  edgevision convert runs/flowers --quant all --max-drop 0.5\n\n"
                        "  edgevision convert runs/flowers --quant int8 --io int8 --json")
    @handle_errors
    def convert(
        run: Path = typer.Argument(..., help="Run directory written by edgevision train."),
        quant: str = typer.Option("int8", "--quant", help="int8 | float16 | dynamic | float32 | all"),
        max_drop: float = typer.Option(1.0, "--max-drop", help="Accuracy budget in percentage points."),
        io: str = typer.Option("uint8", "--io", help="int8 model input/output type: uint8 or int8."),
        calibration_size: int = typer.Option(200, "--calibration-size", help="Representative images."),
        split: str | None = typer.Option(None, "--split", help="Held-out split: test (default) or val."),
        labels: Path | None = typer.Option(None, "--labels", help="Labels file (must match the run's classes)."),
        out: Path | None = typer.Option(None, "--out", help="Output folder (default RUN/export)."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Convert a trained run to TFLite and prove the quantized model is still the model."""
        quiet_tensorflow()
        from edgevision.convert.runner import ConvertOptions, convert_run

        report = convert_run(run, ConvertOptions(quant=quant, max_drop=max_drop, io=io,
                                                 calibration_size=calibration_size, split=split, labels=labels,
                                                 out=out), err_console())
        if json_out:
            print_json(report)
        else:
            render(report)
        if not report["passed"]:
            losers = ", ".join(report["worst_classes"]) or "spread over all classes"
            err_console().print(f"[red]error:[/] accuracy drop {report['drop_points']:.2f} points exceeds the budget "
                                f"of {report['budget_points']} (lost most: {losers})")
            raise typer.Exit(EXIT_CHECK_FAILED)


def render(r: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table("variant", "accuracy", "drop (pts)", "agreement", "size KiB", "size ×", "latency ms", "latency ×",
              "file", title=f"{r['model']}: {r['images']} {r['split']} images through the device runtime")
    ref = r["variants"]["float32"]
    for name, v in r["variants"].items():
        t.add_row(name, f"{v['accuracy']:.4f}", f"{v['drop_points']:.2f}", f"{v['agreement']:.3f}",
                  f"{v['size_bytes'] / 1024:.1f}", f"{v['size_bytes'] / ref['size_bytes']:.2f}",
                  f"{v['latency_ms']:.3f}", f"{v['latency_ms'] / ref['latency_ms']:.2f}", v["path"])
    con = out_console()
    con.print(t)
    verdict = "[green]PASS[/]" if r["passed"] else "[red]FAIL[/]"
    con.print(f"{verdict}: {r['quant']} drop {r['drop_points']:.2f} points (budget {r['budget_points']}), "
              f"agreement with float {r['agreement']:.3f}")
