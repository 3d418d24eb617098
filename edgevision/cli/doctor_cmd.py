"""``edgevision doctor MODEL [--source SRC]``: one screen, pass or fail, on the device itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json
from edgevision.runtime.backends import examples, models_help, notes

_EXAMPLES = """Examples:

  edgevision doctor model.tflite

  edgevision doctor model.tflite --source 0

  edgevision doctor model.tflite --source picamera2:lores --frames 30

  edgevision doctor mobilenet.tflite --labels labels.txt --norm symmetric --source clip.mp4 --json
"""
_ABOUT = """Runs the reference images embedded in the model through this device's runtime and compares
the scores with those recorded on the desktop; with --source, grabs live frames and flags
BGR/RGB swaps, 4-channel XRGB arrays, grayscale Y planes, wrong normalization, black or frozen
frames, and reports frame rate and frame age."""
EPILOG = "\n\n".join([_EXAMPLES + "".join(f"\n  {line}\n" for line in examples("doctor")), _ABOUT,
                      *notes("doctor"), "Exit 0 all passed, 1 a check failed, 2 bad input."])

STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "info": "cyan", "skip": "dim"}


def register(commands: Commands) -> None:
    p = commands.add("doctor", doctor, epilog=EPILOG)
    argument(p, "model", help="The model, or a release folder holding it: " + models_help())
    option(p, "--source", "-s", help="Also check live frames from this source (as for `run`).")
    option(p, "--frames", kind=int, default=20, min=1, help="Live frames to grab.")
    option(p, "--timeout", kind=float, default=15.0, min=1.0, help="Seconds to wait for those frames.")
    option(p, "--labels", kind=Path, help="Labels file (overrides embedded labels).")
    option(p, "--norm", help="raw|unit|symmetric, as you would pass to `run`.")
    option(p, "--threads", kind=int, min=1, help="Interpreter threads.")
    option(p, "--delegate", help="cpu (default) or edgetpu[:usb:0|:pci:0].")
    option(p, "--json", kind=bool, default=False, dest="as_json", help="Print the report as JSON.")


@handle_errors
def doctor(*, model: Path, source: str | None, frames: int, timeout: float, labels: Path | None, norm: str | None,
           threads: int | None, delegate: str | None, as_json: bool) -> None:
    """Check that this device classifies like the desktop did, and that the camera feeds it right."""
    from edgevision.runtime.backends import with_hook

    backend_doctor = with_hook(model, source, "doctor", delegate)
    if backend_doctor is not None:  # a backend with checks of its own (a sensor that runs the network)
        with err_console().status("checking…"):
            report = backend_doctor(model, source, frames, timeout, labels)
        _finish(model, report, as_json)
        return
    from edgevision.doctor.diagnose import diagnose
    from edgevision.runtime.classifier import Classifier, ClassifierOptions
    from edgevision.runtime.interpreter import default_threads
    from edgevision.sources.frame_sources import open_source

    src = open_source(source) if source is not None else None
    clf = Classifier(model, labels, ClassifierOptions(
        threads=threads or default_threads(capture_thread=src is not None and src.live),
        delegate=delegate, normalization=norm))
    console = err_console()
    with console.status("checking…") as status:
        report = diagnose(clf, src, frames=frames, timeout_s=timeout, user_norm=norm,
                          on_step=lambda s: status.update(f"checking {s}…"))
    _finish(model, report, as_json)


def _finish(model: Path, report: Any, as_json: bool) -> None:
    """Print the report (a table or --json) and exit 1 when a check failed: the same for every path."""
    from edgevision.errors import CheckFailed

    if as_json:
        print_json(report.to_dict())
    else:
        _render(model, report)
    if not report.passed:
        failed = [c.name for c in report.checks if c.status == "fail"]
        raise CheckFailed(f"doctor: {len(failed)} check(s) failed: {', '.join(failed)}")


def _render(model: Path, report: object) -> None:
    """The checks as a table; a check's detail quotes the model, its labels and the source: escaped, it is data."""
    from rich.table import Table

    from edgevision.console import inert_markup

    table = Table(title=f"edgevision doctor: {inert_markup(model)}", title_justify="left", show_lines=False,
                  expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for c in report.checks:  # type: ignore[attr-defined]
        table.add_row(inert_markup(c.name), f"[{STYLE.get(c.status, '')}]{c.status.upper()}[/]",
                      inert_markup(c.detail))
    console = out_console()
    console.print(table)
    passed = report.passed  # type: ignore[attr-defined]
    console.print("[bold green]PASS[/]" if passed else "[bold red]FAIL[/]")
