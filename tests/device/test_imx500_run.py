"""The AI Camera path at its thinnest seam: picamera2's IMX500 helper and camera faked (fake_imx500.py),
everything after them real: output parsing, labels, smoothing, threshold, label events and sinks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgevision.errors import BadInput
from edgevision.imx500.open_sensor import open_imx500, resolve_network
from edgevision.imx500.sensor_backend import SensorClassifier
from edgevision.imx500.sensor_source import Imx500Source
from edgevision.model.labels import labels_sha256, write_labels
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from tests.device.fake_imx500 import FakeCamera, FakeIMX500, kpi_bytes

LABELS = ("circle", "cross", "square")


def release(tmp_path: Path, labels: tuple[str, ...] = LABELS, **target: object) -> Path:
    """A folder as deploy leaves it: network.rpk, labels.txt, imx500.json."""
    rpk = tmp_path / "network.rpk"
    rpk.write_bytes(b"9464 not a real network")
    write_labels(tmp_path / "labels.txt", labels)
    card = {"schema": "edgevision.model/1", "name": "shapes", "labels_sha256": labels_sha256(list(labels)),
            "num_classes": len(labels), "preprocess": {"width": 32, "height": 32, "crop": "squash"},
            "target": {"name": "imx500", "output": "scores", **target}}
    (tmp_path / "imx500.json").write_text(json.dumps(card))
    return rpk


def md(scores: list[float] | None, dnn_ms: float = 3.25, dsp_ms: float = 0.5) -> dict[str, object]:
    d: dict[str, object] = {"CnnKpiInfo": kpi_bytes(dnn_ms, dsp_ms)}
    if scores is not None:
        d["CnnOutputTensor"] = scores
    return d


def source(rpk: Path, metadata: list[dict[str, object]], **kw: object) -> tuple[Imx500Source, FakeCamera]:
    cam = FakeCamera(metadata)
    src = Imx500Source(rpk, imx500_factory=FakeIMX500, camera_factory=lambda imx: cam, **kw)  # type: ignore[arg-type]
    return src, cam


def run(src: Imx500Source, clf: SensorClassifier, frames: int, smooth: int = 1) -> list:
    return list(Pipeline(clf, src, PipelineOptions(realtime=False, max_frames=frames, smooth=smooth)).events())


def test_events_carry_sensor_scores_and_sensor_time(tmp_path: Path) -> None:
    rpk = release(tmp_path)
    src, cam = source(rpk, [md(None), md([0.1, 0.7, 0.2]), md([0.6, 0.3, 0.1], dnn_ms=4.0)])
    events = run(src, SensorClassifier(rpk), 2)
    assert [e.label for e in events] == ["cross", "circle"]
    assert events[0].index == 1 and events[0].score == pytest.approx(0.7)
    assert [p.label for p in events[0].top_k] == ["cross", "square", "circle"]
    assert events[0].ms["infer"] == pytest.approx(3.25) and events[1].ms["infer"] == pytest.approx(4.0)
    assert events[0].ms["preprocess"] == 0.0 and events[0].infer_on == "imx500"
    d = events[0].to_dict()
    assert d["infer_on"] == "imx500" and d["source"] == "imx500:network.rpk" and d["frame"] == 0
    assert {"frame", "source", "label", "score", "index", "top_k", "t_capture", "t_emit", "ms", "dropped"} <= set(d)
    assert src.frames_without_outputs == 1  # the request without a tensor was skipped, not classified
    assert all(r.released for r in cam.requests)


def test_frame_is_rgb_from_picamera2_rgb888(tmp_path: Path) -> None:
    rpk = release(tmp_path)
    src, _ = source(rpk, [md([1.0, 0.0, 0.0])])
    src.open()
    frame = src.read()
    src.close()
    assert frame is not None and frame.image.shape == (48, 64, 3)
    assert frame.outputs is not None and frame.outputs.dtype == np.float32
    assert frame.sensor_ms == pytest.approx(3.25) and frame.dsp_ms == pytest.approx(0.5)


def test_smoothing_and_threshold_work_as_on_the_cpu(tmp_path: Path) -> None:
    rpk = release(tmp_path)
    src, _ = source(rpk, [md([0.9, 0.1, 0.0]), md([0.2, 0.8, 0.0])])
    events = run(src, SensorClassifier(rpk, threshold=0.5), 2, smooth=2)
    assert events[1].label == "circle" and events[1].score == pytest.approx(0.55)  # mean of 0.9 and 0.2
    assert [p.label for p in events[1].top_k] == ["circle"]  # cross at 0.45 is under the threshold


def test_label_offset_as_the_classification_demo(tmp_path: Path) -> None:
    rpk = release(tmp_path, labels=("background", "a", "b"))  # one more label than outputs: first one dropped
    clf = SensorClassifier(rpk)
    assert [p.label for p in clf.rank(clf.scores_from_outputs(np.array([0.2, 0.8], np.float32)))] == ["b", "a"]
    (tmp_path / "imx500.json").unlink()
    write_labels(tmp_path / "labels.txt", ("a", "b"))  # one fewer: output 0 is an unlisted background class
    clf = SensorClassifier(rpk)
    top = clf.rank(clf.scores_from_outputs(np.array([0.1, 0.2, 0.7], np.float32)))
    assert (top[0].label, top[0].index) == ("b", 2) and clf.label_offset == 1
    with pytest.raises(BadInput, match="2 labels but the sensor outputs 5 scores"):
        clf.scores_from_outputs(np.zeros(5, np.float32))


def test_raw_integer_outputs_are_dequantized_and_logits_softmaxed(tmp_path: Path) -> None:
    rpk = release(tmp_path, output_tensor={"scale": 0.00390625})
    clf = SensorClassifier(rpk)
    assert clf.scores_from_outputs(np.array([64, 192, 0], np.uint8)).tolist() == [0.25, 0.75, 0.0]
    rpk = release(tmp_path, output="logits")
    s = SensorClassifier(rpk).scores_from_outputs(np.array([0.0, np.log(3.0), -50.0], np.float32))
    assert s.sum() == pytest.approx(1.0) and s[1] == pytest.approx(0.75, abs=1e-4)


def test_labels_that_do_not_match_the_conversion_are_refused(tmp_path: Path) -> None:
    rpk = release(tmp_path)
    write_labels(tmp_path / "labels.txt", ("x", "y", "z"))
    with pytest.raises(BadInput, match="does not match the labels the network was converted with"):
        SensorClassifier(rpk)


def test_crop_follows_the_spec_and_bad_networks_are_one_line(tmp_path: Path) -> None:
    rpk = release(tmp_path)
    src, _ = open_imx500(tmp_path, "imx500:320x240", None, 3, None,
                         imx500_factory=FakeIMX500, camera_factory=lambda imx: FakeCamera([md([1.0, 0, 0])]))
    assert src.size == (320, 240) and src.center_crop is False and resolve_network(tmp_path) == rpk
    with pytest.raises(BadInput, match=r"not \.tflite"):
        resolve_network(tmp_path / "model.tflite")
    with pytest.raises(BadInput, match="size must look like"):
        open_imx500(rpk, "imx500:big", None, 3, None)
    with pytest.raises(BadInput, match="IMX500 network not found"):
        resolve_network(tmp_path / "missing.rpk")


def test_file_sink_writes_the_same_events(tmp_path: Path) -> None:
    from edgevision.sinks.registry import OutputsConfig, SinkContext, open_outputs

    rpk = release(tmp_path)
    src, _ = source(rpk, [md([0.1, 0.2, 0.7])])
    out = tmp_path / "labels.jsonl"
    sinks = open_outputs(OutputsConfig.from_values({"stdout": False, "out": out}), SinkContext())
    for event, frame in Pipeline(SensorClassifier(rpk), src, PipelineOptions(realtime=False, max_frames=3)).results():
        sinks.emit(event, frame)
    sinks.close()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["label"] for x in lines] == ["square"] * 3 and lines[0]["infer_on"] == "imx500"


def test_cli_without_picamera2_is_one_line(tmp_path: Path, cli) -> None:
    rpk = release(tmp_path)
    r = cli("run", rpk, "--source", "imx500", timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "picamera2" in r.stderr and "edgevision[pi]" in r.stderr
    r = cli("run", tmp_path / "labels.txt", "--source", "imx500", timeout=120)
    assert r.returncode == 2 and "runs an IMX500 network (.rpk)" in r.stderr, r.stderr


def test_info_describes_an_imx500_release(tmp_path: Path, cli) -> None:
    rpk = release(tmp_path, memory={"fits": True, "used_kb": 199.6, "total_kb": 8192.0},
                  normalization={"where": "sensor", "mean": [0.0], "std": [255.0],
                                 "removed_from_graph": ["normalize (Rescaling)"]},
                  layers=[{"name": "conv1", "op": "Conv2D"}, {"name": "probability", "op": "Dense"}])
    r = cli("info", rpk, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "fits in the sensor: 200 KB of 8192 KB" in r.stdout and "std=[255.0]" in r.stdout
    assert "Conv2D×1, Dense×1" in r.stdout and "circle, cross, square" in r.stdout
    j = json.loads(cli("info", tmp_path / "imx500.json", "--json", timeout=120).stdout)
    assert j["target"] == "imx500" and set(j["files"]) == {"network.rpk", "labels.txt", "imx500.json"}
