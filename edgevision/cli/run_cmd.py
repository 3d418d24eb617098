"""``edgevision run MODEL --source SRC``: live labels to stdout, a file, MQTT and a live web view.

The typer command is built from the option table (``edgevision.session.run_options``), which the
typer-free start (``run_fast``) reads too; the work itself is ``run_exec.run``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from edgevision.session.run_options import MODEL_HELP, RUN_TABLE, RunOption

EPILOG = """Examples:

  edgevision run model.tflite --source images/

  edgevision run model.tflite --source 0 --top-k 1 --smooth 5 --threshold 0.5

  edgevision run model.tflite --source picamera2:lores --web 8080 --mqtt mqtt://broker.local/kitchen/camera

  edgevision run model.tflite --source http://cam.local/stream.mjpg --out labels.jsonl --no-stdout

  edgevision run mobilenet.tflite --labels labels.txt --source clip.mp4 --realtime

  edgevision run network.rpk --source imx500 --web 8080   (Raspberry Pi AI Camera: the network runs on the sensor)

Sources: image, folder (sorted; --loop), video file, V4L2 camera index, http(s) MJPEG or rtsp URL,
picamera2[:main|:lores][:WxH], imx500[:WxH] (MODEL is then the .rpk, with labels.txt and imx500.json
beside it as edgevision deploy leaves them). Live sources are watched: a read that blocks for --read-timeout
seconds or a stream that ends is reconnected with backoff, and labels resume when it returns.
"""


def _parameter(option: RunOption) -> inspect.Parameter:
    decls = [f"{option.flags[0]}/{option.negative}" if option.negative else option.flags[0], *option.flags[1:]]
    extra: dict[str, Any] = {"envvar": option.envvar, "show_envvar": False} if option.envvar else {}
    info = typer.Option(option.default, *decls, help=option.help, min=option.min, max=option.max, **extra)
    annotation: Any = option.kind | None if option.optional else option.kind
    return inspect.Parameter(option.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=info,
                             annotation=annotation)


def register(app: typer.Typer) -> None:
    from edgevision.cli import run_exec

    def run(**values: Any) -> None:
        run_exec.run(**values)

    params = [inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                default=typer.Argument(..., help=MODEL_HELP), annotation=Path),
              *(_parameter(o) for o in RUN_TABLE)]
    run.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    run.__doc__ = "Classify frames from a source and send one label event per frame to every output."
    app.command(epilog=EPILOG)(run)
