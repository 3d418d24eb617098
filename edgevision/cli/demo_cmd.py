"""``edgevision demo``: the whole path on an embedded dataset, no download needed."""

from __future__ import annotations

from pathlib import Path

from edgevision.cli.arguments import Commands, option
from edgevision.cli.common import EXIT_CHECK_FAILED, handle_errors, out_console, print_json, quiet_tensorflow

EPILOG = "Examples:\n\n  edgevision demo\n\n  edgevision demo --out /tmp/demo --epochs 10"


def register(commands: Commands) -> None:
    p = commands.add("demo", demo, epilog=EPILOG)
    option(p, "--out", "-o", kind=Path, default=Path("demo-output"), help="Where everything goes.")
    option(p, "--epochs", kind=int, min=1, help="Override the demo recipe's epochs.")
    option(p, "--images-per-class", kind=int, min=10, help="Training images per class (default 300).")
    option(p, "--max-drop", kind=float, default=1.0, help="Accuracy budget for int8, percentage points.")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print the summary as JSON at the end.")


@handle_errors
def demo(*, out: Path, epochs: int | None, images_per_class: int | None, max_drop: float, json_out: bool) -> None:
    """Generate shapes, train, convert to int8, validate, run live on a video, benchmark, report."""
    quiet_tensorflow()
    from edgevision.demo.workflow import DemoOptions, run_demo

    summary = run_demo(DemoOptions(out=out, epochs=epochs, images_per_class=images_per_class,
                                   max_drop=max_drop), out_console() if not json_out else None)
    if json_out:
        print_json(summary)
    if not summary["passed"]:
        raise SystemExit(EXIT_CHECK_FAILED)
