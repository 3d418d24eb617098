"""Drift: the statistic, the monitor's window and hysteresis, the reference profile as untrusted input, and a run
that reports drift in its labels log, on the live view, over MQTT (Home Assistant discovery) and in the metrics."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import urllib.request
import zipfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from edgevision.errors import BadInput
from edgevision.model.profile_signals import CONFIDENCE, PROFILE_FILE
from edgevision.model.reference_profile import (
    MAX_PROFILE_BYTES,
    ReferenceProfile,
    build_profile,
    profile_in_model,
    read_profile,
)
from edgevision.pipeline.drift import DriftMonitor, psi
from edgevision.pipeline.drift_config import DriftConfig
from tests.conftest import free_port
from tests.device.conftest import Subscriber, env, wait_port


def _profile(rng: np.random.Generator, n: int = 400, labels: tuple[str, ...] = ("a", "b")) -> ReferenceProfile:
    values = {CONFIDENCE: rng.beta(8, 1, n), "brightness": rng.normal(120, 15, n), "contrast": rng.normal(40, 5, n),
              "red": rng.normal(0.36, 0.01, n), "blue": rng.normal(0.30, 0.01, n),
              "sharpness": rng.normal(0.5, 0.05, n)}
    return build_profile(values, list(rng.integers(0, len(labels), n)), labels, "test")


def _frames(profile_rng: np.random.Generator, n: int, brightness: float = 120.0) -> list[tuple]:
    return [(float(profile_rng.beta(8, 1)), int(profile_rng.integers(0, 2)),
             (float(profile_rng.normal(brightness, 15)), float(profile_rng.normal(40, 5)),
              float(profile_rng.normal(0.36, 0.01)), float(profile_rng.normal(0.30, 0.01)),
              float(profile_rng.normal(0.5, 0.05)))) for _ in range(n)]


def test_psi_is_zero_for_the_reference_itself_and_grows_as_the_window_leaves_it() -> None:
    ref = (0.01, 0.98, 0.01)
    same = psi([1, 98, 1], 100, ref)
    assert 0 <= same < 0.01
    by_hand = sum((w - r) * math.log(w / r) for w, r in zip([(c + 0.5) / 101.5 for c in (20, 80, 0)], ref,
                                                             strict=True))
    assert psi([20, 80, 0], 100, ref) == pytest.approx(by_hand)
    values = [psi([k, 100 - k, 0], 100, ref) for k in (0, 10, 20, 50, 100)]
    assert values == sorted(values) and values[-1] > 8
    assert psi([0, 0, 5], 5, (0.0, 1.0, 0.0)) > 3  # a bin the reference never filled still counts (floored)


def test_signal_profile_masses_follow_the_empirical_distribution() -> None:
    rng = np.random.default_rng(1)
    data = rng.gamma(2.0, 1.0, 5000)
    p = build_profile({CONFIDENCE: data}, [], (), "t").signal(CONFIDENCE)
    assert p is not None and p.count == 5000
    for x in (0.5, 1.0, 2.0, 4.0, 7.0):
        assert p.mass_below(x) == pytest.approx(float(np.mean(data < x)), abs=0.012)
        assert p.mass_above(x) == pytest.approx(float(np.mean(data > x)), abs=0.012)
    assert p.mass_below(-1) == 0 and p.mass_above(1e9) == 0 and p.quantile(0.5) == pytest.approx(np.median(data),
                                                                                                   rel=1e-6)
    tied = build_profile({CONFIDENCE: [1.0] * 90 + [0.5] * 10}, [], (), "t").signal(CONFIDENCE)
    assert tied is not None and tied.mass_above(1.0) == 0 and tied.mass_below(0.5) == 0


def test_monitor_waits_for_its_minimum_window_then_judges_every_n_frames() -> None:
    rng = np.random.default_rng(2)
    monitor = DriftMonitor(_profile(rng), DriftConfig(window=40, min_frames=20, every=5))
    verdicts = [monitor.observe_values(c, i, s, frame=k) for k, (c, i, s) in enumerate(_frames(rng, 100))]
    judged = [k for k, v in enumerate(verdicts) if v is not None]
    assert judged[0] == 19 and all(b - a == 5 for a, b in pairwise(judged))
    assert all(v.state == "ok" and not v.moved for v in verdicts if v is not None)
    assert max(v.window for v in verdicts if v is not None) == 40  # the window rolls, it does not grow
    assert verdicts[judged[0]].changed is False


def test_monitor_raises_on_the_signal_that_moved_and_releases_with_hysteresis() -> None:
    rng = np.random.default_rng(3)
    cfg = DriftConfig(window=50, min_frames=25, every=1, threshold=1.0, release=0.5)
    monitor = DriftMonitor(_profile(rng), cfg)
    for c, i, s in _frames(rng, 50):
        monitor.observe_values(c, i, s)
    assert monitor.state == "ok"
    states = []
    for c, i, s in _frames(rng, 50, brightness=20.0):  # a dark camera: only brightness leaves its range
        v = monitor.observe_values(c, i, s)
        states.append(v)
    flips = [v for v in states if v is not None and v.changed]
    assert len(flips) == 1 and flips[0].state == "drifting" and flips[0].moved == ("brightness",)
    assert flips[0].psi["brightness"] >= 1.0 and flips[0].psi["contrast"] < 0.5
    first = states.index(flips[0])
    assert first < 20, "a dark window is seen within 20 frames"
    # back to normal: it stays drifting while brightness's PSI is in the band [0.5, 1) and releases below it
    back = [monitor.observe_values(c, i, s) for c, i, s in _frames(rng, 50)]
    release = next(v for v in back if v is not None and v.changed)
    assert release.state == "ok"
    before = [v for v in back[:back.index(release)] if v is not None]
    assert any(0.5 <= v.psi["brightness"] < 1.0 and v.state == "drifting" for v in before), "hysteresis band"
    assert release.psi["brightness"] < 0.5


def test_a_steady_scene_inside_the_range_is_not_drift_but_the_label_mix_is_measured() -> None:
    rng = np.random.default_rng(4)
    profile = _profile(rng)
    monitor = DriftMonitor(profile, DriftConfig(window=60, min_frames=30, every=10))
    held = _frames(rng, 1)[0]
    verdicts = [monitor.observe_values(0.95, 1, held[2]) for _ in range(300)]  # one label, one scene, for long
    judged = [v for v in verdicts if v is not None]
    assert all(v.state == "ok" for v in judged)
    assert judged[-1].psi["labels"] > 0.5 and "labels" not in judged[-1].moved
    strict = DriftMonitor(profile, DriftConfig(window=60, min_frames=30, every=10, alarm=("labels",)))
    assert any(v is not None and v.drifting for v in (strict.observe_values(0.95, 1, held[2]) for _ in range(300)))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(format="other/9"), "not a reference profile"),
    (lambda d: d["signals"]["confidence"].update(percentiles=[0.5] * 100), "101 finite"),
    (lambda d: d["signals"]["confidence"].update(percentiles=list(range(101))[::-1]), "non-decreasing"),
    (lambda d: d["signals"]["brightness"]["percentiles"].__setitem__(3, float("nan")), "not valid JSON"),
    (lambda d: d.update(label_mix=[0.9, 0.9]), "summing to at most 1"),
    (lambda d: d.update(labels=["x"] * 20_000, label_mix=[0.0] * 20_000), "at most 10000"),
    (lambda d: d.update(signals={"colourfulness": {}}), "no signal this edgevision knows"),
    (lambda d: d["signals"]["contrast"].update(count=-3), "positive integer"),
    (lambda d: d.update(thumbnail=32), "thumbnail 64"),
])
def test_a_profile_is_checked_field_by_field(mutate, message: str) -> None:
    data = _profile(np.random.default_rng(5)).to_dict()
    assert ReferenceProfile.from_json(json.dumps(data), "p").to_dict() == data
    mutate(data)
    with pytest.raises(BadInput, match=message):
        ReferenceProfile.from_json(json.dumps(data), "p")


def test_hostile_profile_files_are_refused_before_they_are_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: 2 GB claimed, nothing read
    with pytest.raises(BadInput, match="over the"):
        read_profile(big)
    with pytest.raises(BadInput, match="not valid JSON"):
        ReferenceProfile.from_json(b"\xff\xfe{", "p")
    # A model whose zip declares a profile larger than the limit: refused from the directory entry alone.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(PROFILE_FILE, b" " * (MAX_PROFILE_BYTES + 10))
    with pytest.raises(BadInput, match="declares"):
        profile_in_model(b"TFL3" * 8 + buf.getvalue(), "m.tflite")
    assert profile_in_model(b"TFL3" * 8, "m.tflite") is None


def _with_profile(model: Path, profile: ReferenceProfile, out: Path) -> Path:
    """The model with the profile added to its associated files (what the converter does)."""
    from edgevision.model.tflite_file import associated_files, embed

    data = model.read_bytes()
    out.write_bytes(embed(data, {}, {**associated_files(data), PROFILE_FILE: profile.to_json().encode()}))
    return out


def _recorded_profile(model: Path, folder: Path) -> ReferenceProfile:
    """What `device baseline` records: the model's confidences and labels and the frames' statistics."""
    from edgevision.pipeline.profile_recorder import ProfileRecorder
    from edgevision.session.stream import stream

    recorder = ProfileRecorder(10_000)
    import cv2

    from edgevision.runtime.frames import Frame

    images = sorted(folder.rglob("*.png"))
    for i, (event, path) in enumerate(zip(stream(model, folder), images, strict=True)):
        recorder.emit(event, Frame(cv2.imread(str(path)), i, str(folder), 0.0, 0.0, "BGR"))
    return recorder.profile(("circle", "cross", "square", "star", "triangle"), "recorded in a test")


def _covered_copy(src: Path, dst: Path) -> Path:
    """The folder's frames as a camera whose lens is covered: dark sensor noise of the same size."""
    import cv2

    rng = np.random.default_rng(7)
    for p in sorted(src.rglob("*.png")):
        target = dst / p.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shape = cv2.imread(str(p)).shape
        cv2.imwrite(str(target), np.clip(rng.normal(4, 2, shape), 0, 255).astype(np.uint8))
    return dst


def test_a_run_reports_drift_in_its_labels_log_when_the_lens_is_covered(models, tmp_path: Path) -> None:
    """The model carries a profile (recorded from the shapes images it was trained on); a folder of those images
    and then as many frames from a covered lens: the labels log gets one drift record, contrast among the moved."""
    profile = _recorded_profile(models.int8, models.data / "val")
    model = _with_profile(models.int8, profile, tmp_path / "shapes_profiled.tflite")
    stream_dir = tmp_path / "stream"
    for i in range(4):  # 4 x 80 normal frames, then 4 x 80 covered ones (the folder's sorted order)
        for p in sorted((models.data / "train").rglob("*.png"))[:80]:
            (stream_dir / f"a{i}").mkdir(parents=True, exist_ok=True)
            (stream_dir / f"a{i}" / f"{p.parent.name}_{p.name}").write_bytes(p.read_bytes())
        _covered_copy(models.data / "train", stream_dir / f"b{i}")
    log = tmp_path / "labels.jsonl"
    port = free_port()
    run = subprocess.run([sys.executable, "-m", "edgevision", "run", str(model), "--source", str(stream_dir),
                          "--out", str(log), "--no-stdout", "--metrics", str(port), "--drift-window", "50",
                          "--metrics-linger", "0"], capture_output=True, text=True, timeout=180, env=env())
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    drift = [e for e in lines if e.get("event") == "drift"]
    labels = [e for e in lines if "label" in e]
    assert len(labels) == sum(1 for _ in stream_dir.rglob("*.png"))
    assert [d["state"] for d in drift][:1] == ["drifting"], drift
    first = drift[0]
    assert "contrast" in first["moved"] and first["profile"] == "model" and first["window"] == 50
    switch = sum(1 for _ in stream_dir.glob("a*/*.png"))  # the first covered frame's number
    assert 0 <= first["frame"] - switch <= 30, "a covered lens is seen within 30 frames"
    assert all("label" not in d for d in drift)


def test_drift_reaches_the_live_view_mqtt_home_assistant_and_prometheus(models, mosquitto, run_process,
                                                                      tmp_path: Path) -> None:
    profile = _recorded_profile(models.int8, models.data / "val")
    path = tmp_path / "profile.json"
    path.write_text(profile.to_json())
    dark = _covered_copy(models.data / "test", tmp_path / "covered")
    broker = mosquitto.start()
    sub = Subscriber(broker.port, ["ev/cam/#", "homeassistant/#"])
    web, metrics = free_port(), free_port()
    run = run_process(models.int8, "--source", dark, "--loop", "--realtime", "--drift-profile", path,
                      "--drift-window", "20", "--mqtt", f"mqtt://127.0.0.1:{broker.port}/ev/cam", "--mqtt-node",
                      "cam1", "--web", web, "--metrics", metrics)
    events = [e for e in run.wait_events(60, 60) if e.get("event") == "drift"]
    assert events and events[0]["state"] == "drifting" and events[0]["profile"] == "file"
    wait_port(web)
    with urllib.request.urlopen(f"http://127.0.0.1:{web}/drift.json", timeout=5) as r:
        assert json.load(r)["state"] == "drifting"
    with urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=5) as r:
        assert b'id="drift"' in r.read()
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as r:
        text = r.read().decode()
    assert "edgevision_drifting 1.0" in text and 'edgevision_drift_psi{signal="contrast"}' in text
    msgs = sub.collect(20, lambda m: any(t == "ev/cam/drift" for t, _, _ in m) and any(
        t.startswith("homeassistant/binary_sensor") for t, _, _ in m))
    sub.close()
    assert run.stop() == 0, run.stderr
    by_topic = {t: p for t, p, _ in msgs}
    assert json.loads(by_topic["ev/cam/drift"])["state"] == "drifting"
    binary = json.loads(by_topic["homeassistant/binary_sensor/cam1/drift/config"])
    assert binary["state_topic"] == "ev/cam/drift" and binary["payload_on"] == "drifting"
    assert binary["payload_off"] == "ok" and binary["device_class"] == "problem"
    assert binary["availability_topic"] == "ev/cam/availability" and binary["unique_id"] == "edgevision_cam1_drift"


def test_home_assistant_discovers_fps_latency_and_gets_their_values(models, mosquitto, run_process) -> None:
    broker = mosquitto.start()
    sub = Subscriber(broker.port, ["ev/cam/#", "homeassistant/#"])
    run = run_process(models.int8, "--source", models.data / "test", "--loop", "--realtime", "--mqtt",
                      f"mqtt://127.0.0.1:{broker.port}/ev/cam", "--mqtt-node", "cam1")
    msgs = sub.collect(30, lambda m: any(t == "ev/cam/stats" for t, _, _ in m))
    sub.close()
    assert run.stop() == 0, run.stderr
    by_topic = {t: p for t, p, _ in msgs}
    fps = json.loads(by_topic["homeassistant/sensor/cam1/fps/config"])
    latency = json.loads(by_topic["homeassistant/sensor/cam1/latency/config"])
    assert fps["state_topic"] == latency["state_topic"] == "ev/cam/stats"
    assert fps["value_template"] == "{{ value_json.fps }}" and latency["unit_of_measurement"] == "ms"
    assert fps["availability_topic"] == "ev/cam/availability" and fps["device"]["identifiers"] == ["edgevision_cam1"]
    assert "homeassistant/binary_sensor/cam1/drift/config" not in by_topic, "no drift sensor without a profile"
    stats = json.loads(by_topic["ev/cam/stats"])
    assert 1 < stats["fps"] < 100 and stats["latency_ms"] > 0 and stats["frames"] > 0
    label = json.loads(by_topic["homeassistant/sensor/cam1/label/config"])  # the last label, as before
    assert label["state_topic"] == "ev/cam/state"
