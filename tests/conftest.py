"""Shared fixtures: a tiny real dataset, a tiny trained and converted model, CLI runners.

The model fixtures train for real (TensorFlow, 32 px, a few epochs) once per session;
tests that need no TensorFlow receive the resulting .tflite files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


# Real photos, committed with their licence (tests/fixtures/sign-digits/README.md): no test reads outside the repo.
SIGN_DIGITS = REPO / "tests" / "fixtures" / "sign-digits"
PHOTOS = REPO / "tests" / "fixtures" / "photos"
HAS_TF = importlib.util.find_spec("tensorflow") is not None
REQUIRE_ALL = os.environ.get("EDGEVISION_REQUIRE_ALL") == "1"


def pytest_configure(config: pytest.Config) -> None:
    # `edgevision bench` adds results to a store in the user's home by default; tests keep theirs apart
    if "EDGEVISION_BENCH_STORE" not in os.environ:
        os.environ["EDGEVISION_BENCH_STORE"] = str(Path(tempfile.mkdtemp(prefix="edgevision-bench-")) / "bench.sqlite")
    # nothing downloads in tests: ImageNet weights come only from files a test puts in this empty Keras cache
    os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="edgevision-keras-home-")
    os.environ["EDGEVISION_OFFLINE"] = "1"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (servers the tests start take it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(condition: bool, reason: str) -> None:
    """Skip when a prerequisite is missing, but fail under `make test`, where it must be present."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"prerequisite missing under make test: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Cli:
    """Runs ``edgevision`` in a subprocess, the way a user does."""

    python: str
    env: dict[str, str]

    def __call__(self, *args: str | Path, timeout: float = 600, cwd: Path | None = None,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, "-m", "edgevision", *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=self.env, cwd=cwd, input=input)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli(sys.executable, _env())


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small copy of the demo's shapes dataset (train/val/test folders, 32 px)."""
    from edgevision.demo.shapes import generate

    return generate(tmp_path_factory.mktemp("data") / "shapes", seed=11,
                    per_split={"train": 80, "val": 16, "test": 16})


@dataclass(frozen=True)
class TrainedModels:
    run: Path
    int8: Path
    float32: Path
    report: dict
    data: Path


@pytest.fixture(scope="session")
def trained(shapes_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedModels:
    need(HAS_TF, "TensorFlow is not installed (pip install -e '.[train]')")
    from rich.console import Console

    from edgevision.convert.conversion import ConvertOptions, convert_run
    from edgevision.demo.workflow import DEMO_RECIPE
    from edgevision.train.trainer import train

    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    out = tmp_path_factory.mktemp("runs") / "shapes"
    result = train(shapes_data, out, DEMO_RECIPE.override(epochs=12, name="shapes"), quiet)
    report = convert_run(result.out_dir, ConvertOptions(quant="int8", max_drop=100.0, latency_runs=5), quiet)
    v = report["variants"]
    return TrainedModels(result.out_dir, Path(v["int8"]["path"]), Path(v["float32"]["path"]), report, shapes_data)


FIXTURE_MODELS = REPO / "tests" / "fixtures" / "models"


@dataclass(frozen=True)
class DeviceModels:
    """edgevision models as the device receives them, without TensorFlow: see tests/fixtures/make_models.py."""

    int8: Path
    float32: Path
    data: Path


@pytest.fixture(scope="session")
def models(shapes_data: Path, tmp_path_factory: pytest.TempPathFactory) -> DeviceModels:
    """The committed shapes models (trained and converted by edgevision on the desktop, see PROVENANCE.json)
    and the images they were trained on, generated here; copied so that no test can alter the originals."""
    d = tmp_path_factory.mktemp("device_models")
    paths = [Path(shutil.copy2(FIXTURE_MODELS / f"shapes_{v}.tflite", d)) for v in ("int8", "float32")]
    return DeviceModels(paths[0], paths[1], shapes_data)


@pytest.fixture(scope="session")
def desktop_cli() -> Cli:
    """``edgevision`` with the desktop extras (plots need matplotlib), also from a test run in the device venv."""
    python = os.environ.get("EDGEVISION_DESKTOP_PYTHON") or sys.executable
    need(subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode == 0,
         "no desktop virtualenv with matplotlib (set EDGEVISION_DESKTOP_PYTHON, or run `make test`)")
    return Cli(python, _env())


@pytest.fixture(scope="session")
def device_python() -> str:
    """A Python with edgevision[device] only (no TensorFlow), as `make test` builds it."""
    path = os.environ.get("EDGEVISION_DEVICE_PYTHON")
    need(bool(path) and Path(path or "").exists(), "no device-only virtualenv (run `make test`)")
    return str(path)


@pytest.fixture()
def sign_digits() -> Path:
    """The committed subset of the Sign Language Digits photos (train 20, val 4, test 10 per class)."""
    return SIGN_DIGITS


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def trained_int8_bytes(trained: TrainedModels) -> bytes:
    return trained.int8.read_bytes()
