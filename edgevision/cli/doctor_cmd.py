"""``edgevision doctor MODEL [--source SRC]``: one screen, pass or fail, on the device itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json

EPILOG = """Examples:

  edgevision doctor model.tflite

  edgevision doctor model.tflite --source 0

  edgevision doctor model.tflite --source picamera2:lores --frames 30

  edgevision doctor mobilenet.tflite --labels labels.txt --norm symmetric --source clip.mp4 --json

  edgevision doctor /opt/edgevision/current --source imx500     (Raspberry Pi AI Camera)

Runs the reference images embedded in the model through this device's runtime and compares
the scores with those recorded on the desktop; with --source, grabs live frames and flags
BGR/RGB swaps, 4-channel XRGB arrays, grayscale Y planes, wrong normalization, black or frozen
frames, and reports frame rate and frame age. For the AI Camera (a .rpk, a release folder or the
`convert --target imx500` folder): picamera2 and its IMX500 helper, the sensor firmware,
imx500-package, the network and its sensor input settings, the labels and the camera itself; with
--source imx500 also live outputs and the sensor's own inference time. Exit 0 all passed, 1 a
check failed, 2 bad input.
"""

STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "info": "cyan", "skip": "dim"}


def register(commands: Commands) -> None:
    p = commands.add("doctor", doctor, epilog=EPILOG)
    argument(p, "model", help="A .tflite model file; for the AI Camera a .rpk, a release folder or a `convert --target "
             "imx500` folder.")
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
    from edgevision.imx500.sensor_doctor import is_imx500_target

    if is_imx500_target(model, source):
        _imx500(model, source, frames, timeout, labels, as_json)
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


def _imx500(model: Path, source: str | None, frames: int, timeout: float, labels: Path | None,
            as_json: bool) -> None:
    """The AI Camera path: the network runs on the sensor, so the checks are about the Pi around it."""
    from edgevision.errors import BadInput
    from edgevision.imx500.sensor_doctor import diagnose_imx500, resolve_target
    from edgevision.imx500.sensor_source import Imx500Source
    from edgevision.imx500.source_name import is_imx500_source, parse_size

    if source is not None and not is_imx500_source(source):
        raise BadInput(f"--source {source}: an IMX500 network classifies frames from --source imx500 only")
    target = resolve_target(model)
    src = None
    if source is not None and target.rpk is not None:
        crop = ((target.card or {}).get("preprocess") or {}).get("crop", "squash")
        src = Imx500Source(target.rpk, parse_size(source), center_crop=crop == "center")
    with err_console().status("checking the AI Camera…"):
        report = diagnose_imx500(target, labels=labels, source=src, frames=frames, timeout_s=timeout)
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
