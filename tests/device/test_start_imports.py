"""What ``edgevision run`` on an image loads on its way to the first label: what a cold start pays for.

A service starts ``edgevision run`` on every boot of a Pi, so its start is measured against the minimal
ai-edge-litert script (``benchmarks/experiments/tree_ab.py``, ``runtime_frames.py --parts start``). These
tests keep the reasons it is fast (docs/architecture.md): what only some runs use is imported by the code
that uses it; configuration on the way is named tuples, not frozen dataclasses (a start defines every class
it imports, and Python compiles six methods for each frozen dataclass); and the modules that define those
named tuples evaluate their annotations (``typing.NamedTuple`` compiles every string annotation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import FIXTURE_MODELS, REPO

# `edgevision run` as its console script starts it; at exit, what it loaded, the dataclasses edgevision's
# modules define and the string annotations typing compiled (counted by wrapping compile: instrumentation)
PROBE = """
import atexit, builtins, json, sys
compiled = []
_compile = builtins.compile

def counting(source, filename, mode, *args, **kwargs):
    caller = sys._getframe(1).f_code
    if caller.co_name == "__init__" and caller.co_filename.endswith("typing.py"):  # typing.ForwardRef
        compiled.append(source)
    return _compile(source, filename, mode, *args, **kwargs)

builtins.compile = counting

def report():
    import dataclasses, inspect
    classes = sorted(f"{n}.{k}" for n, m in list(sys.modules.items()) if n.startswith("edgevision")
                     for k, v in vars(m).items()
                     if inspect.isclass(v) and v.__module__ == n and dataclasses.is_dataclass(v))
    print(json.dumps({"modules": sorted(sys.modules), "dataclasses": classes, "compiled": compiled}),
          file=sys.stderr)

atexit.register(report)
sys.argv = ["edgevision", *sys.argv[1:]]
from edgevision.cli.main import main
main()
"""

# Modules an image -> label run never uses; each was on this path once, or is one import away from it.
DEFERRED = [
    "edgevision.sources.capture", "edgevision.sources.demand", "edgevision.sources.readahead",  # live, video
    "edgevision.pipeline.drift", "edgevision.pipeline.drift_event", "edgevision.model.reference_profile",
    "edgevision.documents", "msgspec",  # the drift monitor and the profile's reader: only with a profile
    "edgevision.sinks.mqtt", "edgevision.sinks.webview", "edgevision.sinks.prometheus", "edgevision.sinks.samples",
    "http.server", "email", "socket", "ssl", "urllib.request",  # sinks that were not asked for
    "logging.config", "rich", "rich_argparse",  # printing: only help, and what --quiet leaves out
    "edgevision.metrics", "statistics", "subprocess", "importlib.metadata", "zipfile",
]

# The frozen dataclasses left on the way, each for a reason a named tuple cannot serve (docs/architecture.md)
DATACLASSES = [
    "edgevision.model.spec.ModelCard",  # mutable defaults
    "edgevision.model.spec.PreprocessSpec",  # validates in __post_init__
    "edgevision.pipeline.events.LabelEvent",  # caches its JSON line
    "edgevision.runtime.frames.Frame",  # a sensor's frame adds fields to it
]

# String annotations compiled today: Raw and Timed (runtime/backend.py: the backend protocol, NumPy only for
# type checkers) and ModelArtifact.metadata (its reader is imported by the models that have metadata)
COMPILED_AT_MOST = 7


def _probe(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.full((48, 64, 3), 127, np.uint8))
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run([sys.executable, "-c", PROBE, "run", str(FIXTURE_MODELS / "tiny_int8.tflite"),
                          "--source", str(image), "--quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return run, json.loads(run.stderr.strip().splitlines()[-1])


def test_an_image_run_loads_only_what_it_uses(tmp_path: Path) -> None:
    run, seen = _probe(tmp_path)
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(events) == 1 and events[0]["label"], run.stdout
    loaded = set(seen["modules"])
    assert "edgevision.sinks.jsonl" in loaded and "edgevision.runtime.litert_backend" in loaded  # the probe works
    assert sorted(m for m in DEFERRED if m in loaded) == [], "import these inside the code that needs them"


def test_the_start_defines_named_tuples_not_dataclasses(tmp_path: Path) -> None:
    _, seen = _probe(tmp_path)
    assert seen["dataclasses"] == sorted(DATACLASSES), (
        "a frozen dataclass costs every start ~5 M instructions to define: on the run path, use a NamedTuple")
    assert len(seen["compiled"]) <= COMPILED_AT_MOST, (
        f"typing compiled {seen['compiled']}: a module that defines named tuples on the run path does without "
        "`from __future__ import annotations` (docs/architecture.md)")
