"""``edgevision run MODEL --source SRC``: live labels to stdout, a file, MQTT and a live web view.

The parser is generated from the option table (``edgevision.session.run_options.RUN_TABLE``), the one
declaration of ``run``'s options; the work itself is ``run_exec.run``, called with one keyword per row.
"""

from __future__ import annotations

from edgevision.cli.arguments import Commands, add_option, argument
from edgevision.session.run_options import MODEL_HELP, RUN_TABLE

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

DESCRIPTION = "Classify frames from a source and send one label event per frame to every output."


def register(commands: Commands) -> None:
    from edgevision.cli.run_exec import run

    parser = commands.add("run", run, description=DESCRIPTION, epilog=EPILOG)
    argument(parser, "model", help=MODEL_HELP)
    for row in RUN_TABLE:
        add_option(parser, row)
