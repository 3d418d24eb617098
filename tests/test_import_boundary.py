"""The device side never imports TensorFlow: checked in a subprocess, and run in a TF-free virtualenv."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DEVICE_MODULES = [
    "edgevision", "edgevision.runtime.classifier", "edgevision.runtime.inspect", "edgevision.pipeline.realtime",
    "edgevision.session.stream", "edgevision.sources.frame_sources", "edgevision.bench.latency",
    "edgevision.convert.validate", "edgevision.convert.score_tflite", "edgevision.cli.main",
    "edgevision.deploy.bundle", "edgevision.releases.store", "edgevision.releases.operations",
    "edgevision.releases.service",
    "edgevision.releases.supervisor", "edgevision.deploy.deployer", "edgevision.deploy.probe",
    "edgevision.cli.device_cmd", "edgevision.cli.deploy_cmd", "edgevision.cli.bundle_cmd",
    "edgevision.bench.sweep", "edgevision.bench.result_store", "edgevision.bench.comparison", "edgevision.bench.render",
    "edgevision.bench.published", "edgevision.bench.pipeline_bench", "edgevision.cli.bench_results_cmd",
    "edgevision.convert.edgetpu", "edgevision.convert.policy", "edgevision.convert.graph",
    "edgevision.convert.calibration",
    "edgevision.sources.capture", "edgevision.sources.picamera", "edgevision.sinks.mqtt",
    "edgevision.sinks.webview", "edgevision.doctor.diagnose", "edgevision.doctor.frame_checks",
    "edgevision.sinks.registry", "edgevision.runtime.smoothing", "edgevision.cli.doctor_cmd",
    "edgevision.cli.run_cmd",
    "edgevision.train.evaluate",  # saves .tflite evaluation reports on a device too
]

PROBE = """
import json, sys
for name in sys.argv[1:]:
    __import__(name)
from edgevision.cli.main import build_parser
build_parser()
heavy = sorted(m for m in sys.modules
               if m.split('.')[0] in ('tensorflow', 'keras', 'cv2', 'matplotlib', 'paho', 'picamera2', 'playwright'))
print(json.dumps(heavy))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_device_modules_and_cli_import_no_heavy_packages() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *DEVICE_MODULES], capture_output=True, text=True,
                         env=_env(), check=True)
    assert json.loads(out.stdout) == []


def test_cli_help_does_not_import_tensorflow() -> None:
    code = ("import runpy, sys; sys.argv = ['edgevision', '--help']\n"
            "try:\n    runpy.run_module('edgevision', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('TF' if any(m.startswith('tensorflow') for m in sys.modules) else 'CLEAN', file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert "CLEAN" in out.stderr and "Usage" in out.stdout


# every command's --help, and commands that do their work, in one interpreter (run ends the process: last)
CLI_PROBE = """
import json, runpy, sys
from pathlib import Path
from edgevision.cli.main import build_parser
model, image, root, store = sys.argv[1:5]
lines = [[], ["--help"], ["--version"], ["frobnicate"]]
def every(commands, words=()):
    for name, parser in commands.parsers.items():
        lines.append([*words, name, "--help"])
        if parser.commands is not None:
            every(parser.commands, (*words, name))
every(build_parser().commands)
lines += [["info", model, "--json"], ["device", "status", "--root", root, "--json"],
          ["bench", "list", "--store", store, "--json"], ["bench", model, "--runs", "3", "--warmup", "1", "--no-store",
          "--json"], ["doctor", model, "--json"], ["run", model, "--top-k", "0", "-s", image],
          ["run", model, "--source", image, "--quiet"]]
codes = []
for argv in lines:
    sys.argv = ["edgevision", *argv]
    try:
        runpy.run_module("edgevision", run_name="__main__")
    except SystemExit as stop:
        codes.append(stop.code)
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"typer", "click", "pydantic", "pydantic_core"})
print(json.dumps({"codes": codes, "loaded": loaded, "help": "rich_argparse" in sys.modules}), file=sys.stderr)
"""


def test_the_cli_never_imports_typer_click_or_pydantic(tmp_path: Path) -> None:
    """Every command's help, usage errors and real work (info, device status, bench, doctor, run) in one
    process: none of typer, click or pydantic is imported, and with them made unimportable it all still works."""
    import cv2
    import numpy as np

    from tests.conftest import FIXTURE_MODELS

    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.full((48, 64, 3), 127, np.uint8))
    blocker = tmp_path / "block"
    blocker.mkdir()
    for name in ("typer", "click", "pydantic", "pydantic_core"):
        (blocker / f"{name}.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    args = [str(FIXTURE_MODELS / "tiny_int8.tflite"), str(image), str(tmp_path / "root"),
            str(tmp_path / "bench.sqlite")]
    for path in (str(REPO), f"{blocker}:{REPO}"):
        out = subprocess.run([sys.executable, "-c", CLI_PROBE, *args], capture_output=True, text=True, timeout=300,
                             env={**_env(), "PYTHONPATH": path, "COLUMNS": "120"})
        assert "Traceback" not in out.stderr, out.stderr[-3000:]
        report = json.loads(out.stderr.strip().splitlines()[-1])
        codes = report["codes"]
        assert codes[:4] == [2, 0, 0, 2] and set(codes[4:-6]) == {0}, codes  # helps: 0; no command / unknown: 2
        assert codes[-6:] == [0, 0, 0, 0, 2, 0], codes  # info, status, list, bench, doctor; bad --top-k; run
        assert report["loaded"] == [] and report["help"], report
        events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{"frame"')]
        assert len(events) == 1 and events[0]["top_k"], out.stdout[-2000:]


def test_no_module_imports_a_private_module_of_a_dependency() -> None:
    """``from typer._click import …`` breaks with any release of typer: edgevision imports public names only
    (its own modules and ``__future__`` aside), and nothing of typer, click or pydantic at all."""
    offenders = [f"{p.relative_to(REPO)}: {module}" for p in sorted((REPO / "edgevision").rglob("*.py"))
                 for module, _ in _imports(p) if module.split(".")[0] != "edgevision" and module != "__future__"
                 and (any(part.startswith("_") for part in module.split("."))
                      or module.split(".")[0] in ("typer", "click", "pydantic"))]
    assert offenders == []


def test_run_in_a_virtualenv_without_tensorflow(device_python: str, models, tmp_path) -> None:
    has_tf = subprocess.run([device_python, "-c", "import tensorflow"], capture_output=True)
    assert has_tf.returncode != 0, "the device virtualenv must not have TensorFlow"
    folder = models.data / "test" / "triangle"
    out = subprocess.run([device_python, "-m", "edgevision", "run", str(models.int8), "--source", str(folder)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""}, timeout=120)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(events) == len(list(folder.glob("*.png")))
    info = subprocess.run([device_python, "-m", "edgevision", "info", str(models.int8), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["quantization"] == "int8"


@pytest.mark.parametrize("command", ["bench", "run"])
def test_tensorflow_made_unimportable(command: str, models, tmp_path) -> None:
    """Even with TF installed, the device commands work when it cannot be imported."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "tensorflow.py").write_text("raise ImportError('TensorFlow is blocked in this test')\n")
    args = ["--runs", "5"] if command == "bench" else ["--source", str(models.data / "test" / "cross")]
    out = subprocess.run([sys.executable, "-m", "edgevision", command, str(models.int8), *args],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": f"{blocker}:{REPO}"},
                         timeout=120)
    assert out.returncode == 0, out.stderr


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import in a source file (also those inside functions), as (module, names)."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
    return out


def test_no_module_imports_the_package_root() -> None:
    """``edgevision/__init__`` points up at the runtime and device APIs; taking anything from it runs imports
    in a circle. The layers contract of ``make lint`` cannot see this (the root is no layer), so it is checked here."""
    offenders = [f"{p.relative_to(REPO)}: from edgevision import {', '.join(names)}"
                 for p in sorted((REPO / "edgevision").rglob("*.py")) if p != REPO / "edgevision" / "__init__.py"
                 for module, names in _imports(p) if module == "edgevision"]
    assert offenders == []


def test_the_model_layer_never_imports_tensorflow() -> None:
    """The bottom layer (the artifact contract) is what every device reads: not even a fallback may pull TensorFlow."""
    offenders = [f"{p.relative_to(REPO)}: {module}" for p in sorted((REPO / "edgevision" / "model").rglob("*.py"))
                 for module, _ in _imports(p) if module.split(".")[0] in ("tensorflow", "keras", "tf_keras")]
    assert offenders == []
