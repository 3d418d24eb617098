"""``edgevision run MODEL --source SRC``: live labels to stdout, a file, MQTT and a live web view.

The parser is generated from the option table (``edgevision.session.run_options.RUN_TABLE``), the one
declaration of ``run``'s options; the work itself is ``run_exec.run``, called with one keyword per row.
"""

from __future__ import annotations

from edgevision.cli.arguments import Commands, add_option, argument
from edgevision.runtime.backends import examples, notes
from edgevision.session.run_options import MODEL_HELP, RUN_TABLE

_EXAMPLES = """Examples:

  edgevision run model.tflite --source images/

  edgevision run model.tflite --source 0 --top-k 1 --smooth 5 --threshold 0.5

  edgevision run model.tflite --source picamera2:lores --web 8080 --mqtt mqtt://broker.local/kitchen/camera

  edgevision run model.tflite --source http://cam.local/stream.mjpg --out labels.jsonl --no-stdout

  edgevision run mobilenet.tflite --labels labels.txt --source clip.mp4 --realtime
"""
_SOURCES = """Sources: image, folder (sorted; --loop), video file, V4L2 camera index, http(s) MJPEG or rtsp URL,
picamera2[:main|:lores][:WxH], and the sources of backends that bring their own frames (below). Live sources
are watched: a read that blocks for --read-timeout seconds or a stream that ends is reconnected with backoff,
and labels resume when it returns."""
EPILOG = "\n".join([_EXAMPLES, *(f"  {line}\n" for line in examples("run")), _SOURCES,
                    *(f"\n{n}" for n in notes("run"))])

DESCRIPTION = "Classify frames from a source and send one label event per frame to every output."


def register(commands: Commands) -> None:
    from edgevision.cli.run_exec import run

    parser = commands.add("run", run, description=DESCRIPTION, epilog=EPILOG)
    argument(parser, "model", help=MODEL_HELP)
    for row in RUN_TABLE:
        add_option(parser, row)
