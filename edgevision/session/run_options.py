"""The options of ``edgevision run``, declared once: the CLI's parser, a bundle's runtime config and the docs
read this table.

The core options (the source, the backend, the pipeline) are declared here; each sink's options come from
the sink registry (:data:`edgevision.sinks.registry.SINKS`), so a new sink brings its options with it. The
table lives below both the CLI and the release code, so that neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from edgevision.optionspec import BUNDLE_FLAG, BUNDLE_VALUE, REQUIRED, RunOption
from edgevision.pipeline.drift_config import DriftConfig
from edgevision.runtime.backends import BACKENDS
from edgevision.sinks.option_checks import count, positive, seconds
from edgevision.sinks.registry import SINK_OPTIONS

__all__ = ["MODEL_HELP", "REQUIRED", "RUN_OPTIONS", "RUN_TABLE", "RunOption"]

MODEL_HELP = "The model: " + "; ".join(
    e.model_help + (f" with --source {e.source_help}" if e.sources else "") for e in BACKENDS if e.model_help
) + "."

_HEAD: tuple[RunOption, ...] = (
    RunOption("source", ("--source", "-s"), str, REQUIRED,
              "Image, folder, video, camera index (0), picamera2[:lores] or http/rtsp URL"
              + "".join(f", {e.source_help}" for e in BACKENDS if e.sources) + "."),
    RunOption("labels", ("--labels",), Path, None, "Labels file (overrides embedded labels)."),
    RunOption("top_k", ("--top-k",), int, 3, "Classes per event.", min=1),
    RunOption("threshold", ("--threshold",), float, None, "Drop classes scoring below this (0..1).", min=0.0, max=1.0),
    RunOption("smooth", ("--smooth",), int, 1, "Moving average of scores over K frames.", min=1),
    RunOption("threads", ("--threads",), int, None,
              "Interpreter threads (default: cores-1, leaving one to the thread that reads the source; "
              "cores for one image).", min=1),
    RunOption("delegate", ("--delegate",), str, None, "cpu (default) or edgetpu[:usb:0|:pci:0]."),
    RunOption("backend", ("--backend",), str, None,
              "Inference backend by name (default: chosen from the model, the source and --delegate): "
              + ", ".join(e.name for e in BACKENDS) + "."),
    RunOption("norm", ("--norm",), str, None, "raw|unit|symmetric, for models without metadata."),
    RunOption("realtime", ("--realtime",), bool, None,
              "Drop stale frames (default: on for cameras/URLs, off for files).", negative="--no-realtime"),
    RunOption("max_frames", ("--max-frames",), int, None, "Stop after N labels.", min=1),
    RunOption("loop", ("--loop",), bool, False, "Loop a folder source forever."),
)
_TAIL: tuple[RunOption, ...] = (
    RunOption("read_timeout", ("--read-timeout",), float, 5.0,
              "Seconds a capture call may block before it is abandoned.", min=0.1, bundle=BUNDLE_VALUE,
              check=seconds),
    RunOption("give_up_after", ("--give-up-after",), float, None,
              "Exit 1 after this many seconds without frames (default: retry forever).", min=0.0,
              bundle=BUNDLE_VALUE, check=seconds),
    RunOption("drift", ("--drift",), bool, True,
              "Watch for drift: compare a rolling window of frames with the model's reference profile (or "
              "--drift-profile's); verdicts go to every output.", negative="--no-drift", bundle=BUNDLE_FLAG),
    RunOption("drift_profile", ("--drift-profile",), Path, None,
              "Reference profile to compare with instead of the model's (one `edgevision device baseline` recorded)."),
    RunOption("drift_window", ("--drift-window",), int, DriftConfig._field_defaults["window"],
              "Frames in the drift monitor's window (a verdict once half of it is filled).", min=10, max=1_000_000,
              bundle=BUNDLE_VALUE, check=count),
    RunOption("drift_threshold", ("--drift-threshold",), float, DriftConfig._field_defaults["threshold"],
              "Population stability index at which a signal raises drift (back to ok below half of it).",
              min=0.01, max=100.0, bundle=BUNDLE_VALUE, check=positive),
    RunOption("quiet", ("--quiet", "-q"), bool, False, "No summary on stderr."),
)

RUN_TABLE: tuple[RunOption, ...] = (*_HEAD, *SINK_OPTIONS, *_TAIL)

RUN_OPTIONS: frozenset[str] = frozenset(
    flag for o in RUN_TABLE for flag in (*o.flags, *((o.negative,) if o.negative else ())))

# What a bundle's runtime.json may set among the run options (``--sink NAME[=VALUE]``), by that name.
# (the switch's value for a flag: ``no-stdout`` sets stdout to False)
BUNDLE_OPTIONS: Mapping[str, tuple[RunOption, bool]] = MappingProxyType({
    **{o.flag[2:]: (o, True) for o in RUN_TABLE if o.bundle in (BUNDLE_VALUE, BUNDLE_FLAG)},
    **{o.negative[2:]: (o, False) for o in RUN_TABLE if o.bundle == BUNDLE_FLAG and o.negative},
})
