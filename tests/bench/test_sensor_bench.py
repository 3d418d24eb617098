"""``edgevision bench`` on the AI Camera: the sensor's own DNN time, recorded and reported apart from invoke().

The sensor metadata is faked (tests/device/fake_imx500.py: picamera2's IMX500 helper and camera,
the KPI bytes packed as libcamera packs CnnKpiInfo); the adapter, parsing, result document,
store, report and HTML are the real ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgevision.bench.comparison import compare, sensor_rows, table_rows
from edgevision.bench.record import validate
from edgevision.bench.result_store import ResultStore, write_export
from edgevision.errors import BadInput
from edgevision.imx500.sensor_backend import SensorClassifier
from edgevision.imx500.sensor_bench import is_on_sensor, measure, sensor_doc
from edgevision.imx500.sensor_source import Imx500Source
from tests.bench.docs import make_doc
from tests.device.fake_imx500 import FakeCamera, FakeIMX500
from tests.device.imx500_files import network_info, write_rpk
from tests.device.test_imx500_run import md, release


def sensor_run(tmp_path: Path, metadata: list[dict[str, object]], frames: int = 12, warmup: int = 3) -> dict:
    rpk = release(tmp_path)
    write_rpk(rpk, network_info(32, 32))
    cam = FakeCamera(metadata)
    src = Imx500Source(rpk, imx500_factory=FakeIMX500, camera_factory=lambda imx: cam)
    clf = SensorClassifier(rpk)
    metrics = measure(src, clf, frames, warmup)
    assert cam.closed  # the camera is released after measuring
    return sensor_doc(rpk, clf, metrics, warmup, "pi5-desk", network_input=(32, 32))


def test_on_sensor_time_is_what_the_sensor_reports(tmp_path: Path) -> None:
    doc = sensor_run(tmp_path, [md([0.1, 0.7, 0.2], dnn_ms=3.0, dsp_ms=0.5), md([0.6, 0.3, 0.1], dnn_ms=5.0,
                                                                                dsp_ms=0.7)])
    m = doc["metrics"]
    assert doc["kind"] == "sensor" and doc["on_sensor"] is True and doc["config"]["delegate"] == "imx500"
    assert m["frames"] == 12 and m["frames_with_kpi"] == 12 and m["invoke"]["runs"] == 12
    assert m["invoke"]["p50"] == pytest.approx(4.0) and m["invoke"]["min"] == 3.0 and m["invoke"]["max"] == 5.0
    assert m["dsp"]["p50"] == pytest.approx(0.6) and 0 < m["host_parse"]["p50"] < 50
    assert "get_kpi_info" in m["kpi_source"]
    assert doc["device"]["profile"] == "rpi-ai-camera" and doc["device"]["runtime"] == "imx500"
    assert doc["model"]["name"] == "shapes" and doc["model"]["input_shape"] == [1, 32, 32, 3]
    assert validate(doc, "here") is doc and is_on_sensor(doc)
    store = ResultStore.open(tmp_path / "s.sqlite")
    store.add([doc])
    assert store.results()[0]["metrics"]["invoke"]["p50"] == pytest.approx(4.0)


def test_frames_without_sensor_timings_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no inference time"):
        sensor_run(tmp_path, [{"CnnOutputTensor": [0.2, 0.5, 0.3]}], frames=3, warmup=1)


def test_report_keeps_on_sensor_results_apart_from_invoke_latency(tmp_path: Path, cli) -> None:
    sensor = sensor_run(tmp_path, [md([0.1, 0.7, 0.2], dnn_ms=3.0)])
    cpu = make_doc(25.0)
    comp = compare([cpu, sensor], [])
    assert [r.doc["id"] for r in comp.rows] == [cpu["id"]] and [r.doc["id"] for r in comp.sensor] == [sensor["id"]]
    assert len(table_rows(comp)) == 1 and sensor_rows(comp)[0][4] == "3"
    write_export(tmp_path / "mixed.json", [cpu, sensor])
    r = cli("bench", "report", tmp_path / "mixed.json", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    on = [x for x in rows if x.get("on_sensor")]
    assert len(rows) == 2 and len(on) == 1
    assert on[0]["sensor DNN p50 ms"] == "3" and "p50 ms" not in on[0]  # never in the invoke() column
    out = tmp_path / "rep"
    r = cli("bench", "report", tmp_path / "mixed.json", "--out", out, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "on-sensor results" in r.stdout and "comparable with invoke() latency" in " ".join(r.stderr.split())
    html = (out / "bench_report.html").read_text()
    assert "On-sensor inference (Raspberry Pi AI Camera)" in html
    write_export(tmp_path / "only.json", [sensor])  # only on-sensor results: a table, no invoke() plot
    r = cli("bench", "report", tmp_path / "only.json", "--out", tmp_path / "rep2", timeout=120)
    assert r.returncode == 0 and "on-sensor results" in r.stdout, r.stderr


def test_bench_cli_on_a_network_without_the_camera_is_one_line(tmp_path: Path, cli) -> None:
    rpk = release(tmp_path)
    write_rpk(rpk, network_info())
    r = cli("bench", rpk, "--no-store", timeout=120)
    assert r.returncode == 2 and "picamera2" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = cli("bench", tmp_path, "--source", "synthetic:64x64", "--no-store", timeout=120)
    assert r.returncode == 2 and "--source imx500" in r.stderr, r.stderr
