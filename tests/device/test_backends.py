"""The backend seam: every backend of the registry honours one protocol, and a new one is one module plus one
registry line (here: a toy backend defined in this file, registered through the ``edgevision.backends``
entry-point group and run by ``edgevision run`` in a subprocess).

Hardware that cannot exist here is faked at its thinnest boundary and nowhere else: the Edge TPU's delegate
(its graph runs on the CPU interpreter) and the AI Camera's picamera2 helper and camera (fake_imx500.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edgevision.errors import BadInput
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from edgevision.runtime import backends
from edgevision.runtime import interpreter as interpreter_module
from edgevision.runtime.backend import Backend, Raw, Timed
from edgevision.runtime.backends import BACKENDS, BackendConfig, BackendEntry, by_name, choose
from edgevision.runtime.classification import Classification, Ranking
from edgevision.runtime.frames import Frame
from edgevision.runtime.interpreter import RuntimeInfo
from edgevision.runtime.postprocess import Prediction
from edgevision.session.config import RunConfig, SourceConfig
from edgevision.session.run import Run
from tests.conftest import REPO
from tests.device.conftest import env
from tests.device.fake_imx500 import FakeCamera, FakeIMX500, kpi_bytes

LABELS = ("circle", "cross", "square")


def _images(folder: Path, n: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(n):
        level = 30 if i % 2 == 0 else 220  # dark, light, dark, light
        img = np.clip(rng.normal(level, 10, (48, 64, 3)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img_{i}.png"), img)
    return folder


def _imx500_release(folder: Path) -> Path:
    from edgevision.model.labels import labels_sha256, write_labels

    folder.mkdir(parents=True, exist_ok=True)
    rpk = folder / "network.rpk"
    rpk.write_bytes(b"9464 not a real network")
    write_labels(folder / "labels.txt", LABELS)
    card = {"schema": "edgevision.model/1", "name": "shapes", "labels_sha256": labels_sha256(list(LABELS)),
            "num_classes": 3, "preprocess": {"width": 32, "height": 32, "crop": "squash"},
            "target": {"name": "imx500", "output": "scores"}}
    (folder / "imx500.json").write_text(json.dumps(card))
    return rpk


@pytest.fixture()
def fake_edgetpu(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """No Coral here: the delegate loader hands back a marker and the interpreter runs the graph on the CPU,
    after checking that the delegate reached it. Everything of the Edge TPU backend above that is real."""
    made: list[dict[str, Any]] = []
    real = interpreter_module.interpreter_module

    class Module:
        def __init__(self, mod: Any) -> None:
            self._mod = mod

        def __getattr__(self, name: str) -> Any:
            return getattr(self._mod, name)

        def Interpreter(self, **kwargs: Any) -> Any:
            delegates = kwargs.pop("experimental_delegates", [])
            made.append({"delegates": delegates})
            return self._mod.Interpreter(**kwargs)

    def fake_module() -> tuple[Any, str, str]:
        mod, name, version = real()
        return Module(mod), name, version

    monkeypatch.setattr(interpreter_module, "interpreter_module", fake_module)
    monkeypatch.setattr(interpreter_module, "load_edgetpu_delegate", lambda mod, device="": "edgetpu-delegate")
    return made


def _open(name: str, models: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Backend, Any]:
    """(backend, frame source) for each built-in backend, opened through the registry."""
    images = _images(tmp_path / "images")
    if name == "litert":
        config = BackendConfig(model=models.int8, top_k=2)
        return choose(config, str(images)).open(config), images
    if name == "edgetpu":
        config = BackendConfig(model=models.int8, top_k=2, delegate="edgetpu:usb:0")
        entry = choose(config, str(images))
        assert entry.name == "edgetpu"
        return entry.open(config), images
    from edgevision.imx500.sensor_source import Imx500Source

    rpk = _imx500_release(tmp_path / "release")
    metadata = [{"CnnOutputTensor": [0.1, 0.7, 0.2], "CnnKpiInfo": kpi_bytes(3.0, 0.5)},
                {"CnnOutputTensor": [0.6, 0.3, 0.1], "CnnKpiInfo": kpi_bytes(3.5, 0.5)}] * 4
    cam = FakeCamera(metadata)
    monkeypatch.setattr(Imx500Source, "_factories", lambda self: (FakeIMX500, lambda imx: cam))
    config = BackendConfig(model=rpk, top_k=2)
    entry = choose(config, "imx500")
    assert entry.name == "imx500"
    return entry.open_with_source(config, "imx500")


@pytest.mark.parametrize("name", [e.name for e in BACKENDS])
def test_every_backend_honours_the_protocol(name: str, models: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, fake_edgetpu: list) -> None:
    backend, source = _open(name, models, tmp_path, monkeypatch)
    assert isinstance(backend, Backend)
    assert isinstance(backend.info, RuntimeInfo) and backend.info.name and isinstance(backend.info.threads, int)
    assert isinstance(backend.model_name, str) and backend.model_name
    assert isinstance(backend.describe(), dict) and backend.describe()
    spec = backend.wanted_input()
    stage = backend.stager()
    assert (spec is None) == (stage is None)  # a backend that preprocesses on the host says what it wants

    from edgevision.sources.frame_sources import open_source

    src = source if not isinstance(source, Path) else open_source(source)
    src.open()
    try:
        frame = src.read()
        assert isinstance(frame, Frame)
        out = backend.infer_frame(frame)
        assert isinstance(out, Raw | Timed) and out.infer_ms >= 0 and out.preprocess_ms >= 0
        scores = (backend.finish(out) if isinstance(out, Raw) else out).scores
        assert scores.ndim == 1 and scores.size >= 2 and np.all(np.isfinite(scores))
        post = backend.postprocessor(smooth=1)
        result = post(out)
        assert isinstance(result, Classification) and len(result.top_k) == 2
        assert result.top_k[0].score >= result.top_k[1].score and result.label == result.top_k[0].label
        assert set(result.fields()) == {"label", "score", "index", "top_k"}
        if stage is not None:  # a tensor staged by a reader thread scores exactly like the inline path
            staged = replace(frame, staged=stage(frame.image, frame.order))
            again = backend.infer_frame(staged)
            assert post(again) == result
        post.reset()
    finally:
        src.close()
    if name == "edgetpu":
        assert backend.info.delegate == "edgetpu:usb:0" and fake_edgetpu[-1]["delegates"] == ["edgetpu-delegate"]
    elif name == "litert":
        assert backend.info.delegate == "cpu" and fake_edgetpu[-1]["delegates"] == []
    backend.close()
    backend.close()  # closing twice is harmless


@pytest.mark.parametrize("name", [e.name for e in BACKENDS])
def test_every_backend_runs_the_pipeline_to_events(name: str, models: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, fake_edgetpu: list) -> None:
    backend, source = _open(name, models, tmp_path, monkeypatch)
    from edgevision.sources.frame_sources import open_source

    src = source if not isinstance(source, Path) else open_source(source)
    events = list(Pipeline(backend, src, PipelineOptions(realtime=False, max_frames=3, smooth=2)).events())
    assert [e.frame for e in events] == [0, 1, 2]
    for e in events:
        d = json.loads(e.to_json())
        assert d["label"] == e.top_k[0].label and len(d["top_k"]) == 2 and d["ms"]["infer"] >= 0
        assert (d.get("infer_on", "") == backend.infer_on)


def test_choice_follows_source_then_delegate_then_model(models: Any, tmp_path: Path) -> None:
    rpk = _imx500_release(tmp_path / "r")
    assert choose(BackendConfig(model=models.int8), "clip.mp4").name == "litert"
    assert choose(BackendConfig(model=models.int8, delegate="edgetpu"), "0").name == "edgetpu"
    assert choose(BackendConfig(model=rpk), "imx500:640x480").name == "imx500"
    assert choose(BackendConfig(model=rpk.parent), "0").name == "imx500"  # a release folder holding network.rpk
    assert choose(BackendConfig(model=models.int8, name="edgetpu"), "0").name == "edgetpu"
    with pytest.raises(BadInput, match="give --source imx500"):
        backends.open_backend(BackendConfig(model=rpk), "clip.mp4")
    with pytest.raises(BadInput, match="unknown backend; known: litert, edgetpu, imx500"):
        by_name("hailo")


def test_a_run_closes_what_it_opened_when_a_sink_cannot_open(models: Any, tmp_path: Path) -> None:
    """All or nothing: the model is closed again when a sink refuses its options."""
    from edgevision.sinks.registry import OutputsConfig

    images = _images(tmp_path / "images")
    config = RunConfig(SourceConfig(str(images)), BackendConfig(model=models.int8),
                       outputs=OutputsConfig.from_values({"mqtt": "ftp://not-a-broker"}))
    run = Run(config)
    with pytest.raises(BadInput, match="--mqtt"):
        run.open()
    assert run.backend is not None and run.backend.interpreter is None  # type: ignore[attr-defined]


# --- a toy backend: this module is its backend module, TOY its registry line ---------------------------------

class ToyBackend:
    """Scores two classes from a frame's mean brightness: no interpreter, no model format."""

    infer_on = ""

    def __init__(self, config: BackendConfig) -> None:
        self.labels = ("dark", "light")
        self.top_k = config.top_k
        self.info = RuntimeInfo("toy", "1", 1, "none")
        self.model_name = Path(str(config.model)).stem

    def wanted_input(self) -> None:
        return None

    def stager(self) -> None:
        return None

    def infer_frame(self, frame: Frame) -> Timed:
        light = float(frame.image.mean()) / 255.0
        return Timed(np.array([1.0 - light, light], np.float32), 0.0, 0.01)

    def finish(self, raw: Raw) -> Timed:
        return Timed(raw.output.astype(np.float32), raw.preprocess_ms, raw.infer_ms)

    def postprocessor(self, smooth: int = 1) -> Ranking:
        return Ranking(self, smooth)

    def rank(self, scores: np.ndarray, k: int | None = None, threshold: float | None = None) -> list[Prediction]:
        order = np.argsort(-scores)[: k or self.top_k]
        return [Prediction(self.labels[i], float(scores[i]), int(i)) for i in order]

    def rank_output(self, output: np.ndarray, k: int | None = None,
                    threshold: float | None = None) -> list[Prediction]:
        return self.rank(output, k, threshold)

    def describe(self) -> dict[str, Any]:
        return {"runtime": "toy", "classes": list(self.labels)}

    def close(self) -> None:
        pass


def open_backend(config: BackendConfig, reader_thread: bool = True) -> ToyBackend:
    return ToyBackend(config)


TOY = BackendEntry("toy", __name__, "a toy backend (mean brightness)", model_suffixes=(".toy",))


def _plugin_site(tmp_path: Path) -> Path:
    """A distribution installed beside edgevision that registers TOY (what `pip install` would leave)."""
    site = tmp_path / "site"
    info = site / "edgevision_toy_backend-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: edgevision-toy-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[edgevision.backends]\ntoy = {__name__}:TOY\n")
    return site


@pytest.mark.parametrize("by", ["name", "model file"])
def test_a_toy_backend_runs_through_edgevision_run(by: str, tmp_path: Path) -> None:
    images = _images(tmp_path / "images")
    model = tmp_path / "brightness.toy"
    model.write_text("toy")
    site = _plugin_site(tmp_path)
    e = env()
    e["PYTHONPATH"] = f"{REPO}:{site}"
    args = [sys.executable, "-m", "edgevision", "run", str(model), "--source", str(images), "--top-k", "2",
            "--quiet", *(["--backend", "toy"] if by == "name" else [])]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=e)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [ev["label"] for ev in events] == ["dark", "light", "dark", "light"]
    assert all(len(ev["top_k"]) == 2 and ev["ms"]["infer"] == 0.01 for ev in events)
    bad = subprocess.run([*args[:5], "--source", str(images), "--backend", "tpu-of-the-future"], capture_output=True,
                         text=True, timeout=120, env=e)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: --backend 'tpu-of-the-future': unknown backend; known: litert, edgetpu, imx500, toy"]
