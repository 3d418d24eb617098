"""The options of ``edgevision run``, declared once: the CLI's parser and deploy read this.

A bundle's runtime config becomes ``run`` flags on the device; before a service is switched to a
release, the device checks that its own edgevision knows every one of them (sinks come and go
between versions). The table lives here, below both the CLI and the deploy code, so that deploy
never imports the CLI. The CLI generates ``run``'s argparse parser from it (``edgevision.cli.run_cmd``);
``tests/test_cli_dispatch.py`` checks what that parser reads command lines as.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

REQUIRED = ...  # the default of an option that must be given


class RunOption(NamedTuple):
    """One option: its parameter name, flags (``negative`` is the ``--no-x`` of a ``--x/--no-x`` switch)."""

    name: str
    flags: tuple[str, ...]
    kind: type                   # str, int, float, bool or Path
    default: object
    help: str
    negative: str | None = None
    min: float | None = None
    max: float | None = None
    envvar: str | None = None

    @property
    def optional(self) -> bool:
        """``kind | None``: the option may be left unset (None), as opposed to having a value by default."""
        return self.default is None


MODEL_HELP = "A .tflite model file (a .rpk with --source imx500)."

RUN_TABLE: tuple[RunOption, ...] = (
    RunOption("source", ("--source", "-s"), str, REQUIRED,
              "Image, folder, video, camera index (0), picamera2[:lores] or http/rtsp URL."),
    RunOption("labels", ("--labels",), Path, None, "Labels file (overrides embedded labels)."),
    RunOption("top_k", ("--top-k",), int, 3, "Classes per event.", min=1),
    RunOption("threshold", ("--threshold",), float, None, "Drop classes scoring below this (0..1).", min=0.0, max=1.0),
    RunOption("smooth", ("--smooth",), int, 1, "Moving average of scores over K frames.", min=1),
    RunOption("threads", ("--threads",), int, None,
              "Interpreter threads (default: cores-1, leaving one to the thread that reads the source; "
              "cores for one image).", min=1),
    RunOption("delegate", ("--delegate",), str, None, "cpu (default) or edgetpu[:usb:0|:pci:0]."),
    RunOption("norm", ("--norm",), str, None, "raw|unit|symmetric, for models without metadata."),
    RunOption("realtime", ("--realtime",), bool, None,
              "Drop stale frames (default: on for cameras/URLs, off for files).", negative="--no-realtime"),
    RunOption("max_frames", ("--max-frames",), int, None, "Stop after N labels.", min=1),
    RunOption("loop", ("--loop",), bool, False, "Loop a folder source forever."),
    RunOption("stdout", ("--stdout",), bool, True, "JSON lines on stdout.", negative="--no-stdout"),
    RunOption("out", ("--out",), Path, None, "Also append the JSON lines to this file."),
    RunOption("mqtt", ("--mqtt",), str, None,
              "Publish to an MQTT broker: mqtt://user@host:port/topic (all but host optional; mqtts:// for TLS)."),
    RunOption("mqtt_password_file", ("--mqtt-password-file",), Path, None,
              "MQTT password from this file (mode 600); or set $EDGEVISION_MQTT_PASSWORD. Never shown or logged."),
    RunOption("mqtt_ca", ("--mqtt-ca",), Path, None, "CA bundle for mqtts:// (default: system's)."),
    RunOption("mqtt_cert", ("--mqtt-cert",), Path, None, "Client certificate for mqtts://."),
    RunOption("mqtt_key", ("--mqtt-key",), Path, None, "Client key for --mqtt-cert."),
    RunOption("mqtt_node", ("--mqtt-node",), str, None, "Device id in topics (default: hostname)."),
    RunOption("mqtt_discovery", ("--mqtt-discovery",), bool, True, "Publish Home Assistant discovery configs.",
              negative="--no-mqtt-discovery"),
    RunOption("web", ("--web",), int, None, "Serve the live view on this port (0: any free port).", min=0, max=65535),
    RunOption("host", ("--host",), str, "127.0.0.1",
              "Address the live view binds to (0.0.0.0: all; anything but loopback needs a token)."),
    RunOption("web_token", ("--web-token",), str, None,
              "Token the live view asks for (default beyond loopback: a new one, printed once); or "
              "$EDGEVISION_WEB_TOKEN.", envvar="EDGEVISION_WEB_TOKEN"),
    RunOption("web_token_file", ("--web-token-file",), Path, None, "Read the token from this file."),
    RunOption("read_timeout", ("--read-timeout",), float, 5.0,
              "Seconds a capture call may block before it is abandoned.", min=0.1),
    RunOption("give_up_after", ("--give-up-after",), float, None,
              "Exit 1 after this many seconds without frames (default: retry forever).", min=0.0),
    RunOption("quiet", ("--quiet", "-q"), bool, False, "No summary on stderr."),
)

RUN_OPTIONS: frozenset[str] = frozenset(
    flag for o in RUN_TABLE for flag in (*o.flags, *((o.negative,) if o.negative else ())))
