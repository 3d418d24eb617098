"""``edgevision demo``: the whole path on an embedded dataset, no download needed."""

from __future__ import annotations

from pathlib import Path

import typer

from edgevision.cli.common import EXIT_CHECK_FAILED, handle_errors, out_console, print_json, quiet_tensorflow


def register(app: typer.Typer) -> None:
    @app.command(epilog="Examples:\n\n  edgevision demo\n\n  edgevision demo --out /tmp/demo --epochs 10")
    @handle_errors
    def demo(
        out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Where everything goes."),
        epochs: int | None = typer.Option(None, "--epochs", min=1, help="Override the demo recipe's epochs."),
        images_per_class: int | None = typer.Option(None, "--images-per-class", min=10,
                                                    help="Training images per class (default 300)."),
        max_drop: float = typer.Option(1.0, "--max-drop", help="Accuracy budget for int8, percentage points."),
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON at the end."),
    ) -> None:
        """Generate shapes, train, convert to int8, validate, run live on a video, benchmark, report."""
        quiet_tensorflow()
        from edgevision.demo.workflow import DemoOptions, run_demo

        summary = run_demo(DemoOptions(out=out, epochs=epochs, images_per_class=images_per_class,
                                       max_drop=max_drop), out_console() if not json_out else None)
        if json_out:
            print_json(summary)
        if not summary["passed"]:
            raise typer.Exit(EXIT_CHECK_FAILED)
