"""The Prometheus metrics sink: a real Prometheus server scrapes `edgevision run --metrics`, and its query API
answers with what the run's own events say; the endpoint's token rules; the board's health readers."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import free_port, need
from tests.device.conftest import env, wait_port

PROMETHEUS = shutil.which("prometheus")


def _video(folder: Path, path: Path, fps: float = 20.0, repeat: int = 5) -> int:
    """The folder's images, ``repeat`` times over, as an MJPEG .avi (80 frames: 4 s played in real time)."""
    import cv2

    images = sorted(p for p in folder.rglob("*.png")) * repeat
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 64))
    for p in images:
        writer.write(cv2.resize(cv2.imread(str(p)), (64, 64), interpolation=cv2.INTER_NEAREST))
    writer.release()
    return len(images)


class Prometheus:
    """Debian's prometheus on loopback with a temporary config and storage directory, scraping one target."""

    def __init__(self, tmp: Path, target_port: int, interval: str = "1s") -> None:
        self.port = free_port()
        (tmp / "prometheus.yml").write_text(
            "global:\n  scrape_interval: " + interval + "\n  scrape_timeout: " + interval + "\n"
            "scrape_configs:\n  - job_name: edgevision\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n")
        self.log = open(tmp / "prometheus.log", "wb")  # noqa: SIM115 - the server owns it until stopped
        self.proc = subprocess.Popen([str(PROMETHEUS), f"--config.file={tmp / 'prometheus.yml'}",
                                      f"--storage.tsdb.path={tmp / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                                     stdout=subprocess.DEVNULL, stderr=self.log, cwd=tmp)
        wait_port(self.port, 30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise AssertionError("prometheus did not become ready")

    def query(self, expr: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def targets(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/targets", timeout=10) as r:
            return json.load(r)["data"]["activeTargets"]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def test_prometheus_scrapes_a_run_on_a_video_and_its_counts_match_the_events(models, tmp_path: Path) -> None:
    need(PROMETHEUS is not None, "prometheus is not installed (Debian package prometheus)")
    video = tmp_path / "shapes.avi"
    n_frames = _video(models.data / "test", video)
    port = free_port()
    prom = Prometheus(tmp_path, port)
    try:
        run = subprocess.run([sys.executable, "-m", "edgevision", "run", str(models.int8), "--source", str(video),
                              "--realtime", "--metrics", str(port), "--metrics-linger", "30"],
                             capture_output=True, text=True, timeout=120, env=env())
        assert run.returncode == 0, run.stderr
        events = [json.loads(line) for line in run.stdout.splitlines()]
        # played in real time, a frame that arrives while the model is busy is dropped (a loaded machine)
        assert n_frames // 2 <= len(events) <= n_frames and f"metrics: http://127.0.0.1:{port}/metrics" in run.stderr

        # The run is over: its series end with the scrape it waited for (max_over_time skips staleness markers).
        frames = prom.query("max_over_time(edgevision_frames_total[10m])")
        assert [float(r["value"][1]) for r in frames] == [float(len(events))]
        by_label = {r["metric"]["label"]: float(r["value"][1])
                    for r in prom.query("max_over_time(edgevision_labels_total[10m])")}
        expected = Counter(e["label"] for e in events)
        assert by_label == {label: float(expected.get(label, 0)) for label in by_label}
        assert set(by_label) == {"circle", "cross", "square", "star", "triangle"}  # every class, from 0
        dropped = prom.query("max_over_time(edgevision_dropped_frames_total[10m])")
        assert [float(r["value"][1]) for r in dropped] == [float(events[-1]["dropped"])]
        latency = prom.query("max_over_time(edgevision_glass_to_label_seconds_count[10m])")
        assert float(latency[0]["value"][1]) == len(events)
        infer = prom.query('max_over_time(edgevision_stage_seconds_count{stage="infer"}[10m])')
        assert float(infer[0]["value"][1]) == len(events)
        total_ms = prom.query('max_over_time(edgevision_stage_seconds_sum{stage="infer"}[10m])')
        assert float(total_ms[0]["value"][1]) * 1e3 == pytest.approx(sum(e["ms"]["infer"] for e in events),
                                                                       rel=0.01, abs=0.01)
        info = prom.query("max_over_time(edgevision_model_info[10m])")[0]["metric"]
        assert info["model"] == "shapes" and info["quantization"] == "int8" and info["backend"] == "litert"
        assert info["runtime"].startswith(("ai-edge-litert", "tflite-runtime")) and info["delegate"] == "cpu"
        fps = prom.query("max_over_time(edgevision_fps[10m])")
        assert 5.0 < float(fps[0]["value"][1]) < 40.0, fps  # a 20 FPS video played in real time
        rss = prom.query("max_over_time(process_resident_memory_bytes[10m])")
        assert float(rss[0]["value"][1]) > 10e6
        assert prom.query("count(count_over_time(edgevision_frames_total[10m]))")[0]["value"][1] == "1"
        scrapes = prom.query("count_over_time(edgevision_frames_total[10m])")
        assert float(scrapes[0]["value"][1]) >= 3, "scraped while the video played, and once after"
    finally:
        prom.stop()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_beyond_loopback_need_the_token(models, run_process, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-123\n")
    token_file.chmod(0o600)
    port = free_port()
    run = run_process(models.int8, "--source", models.data / "test", "--loop", "--realtime", "--metrics", port,
                      "--metrics-host", "0.0.0.0", "--metrics-token-file", token_file)
    run.wait_events(5, 60)
    wait_port(port)
    url = f"http://127.0.0.1:{port}/metrics"
    assert _get(url)[0] == 401
    assert _get(url, {"Authorization": "Bearer wrong-token-000"})[0] == 401
    code, body = _get(url, {"Authorization": "Bearer s3cret-token-123"})
    assert code == 200 and "edgevision_frames_total" in body
    assert _get(url, {"Authorization": "Bearer s3cret-token-123", "Host": "evil.example"})[0] == 421
    assert run.stop() == 0, run.stderr
    assert "s3cret" not in run.stderr


def test_quiet_metrics_beyond_loopback_without_a_token_is_refused(models) -> None:
    out = subprocess.run([sys.executable, "-m", "edgevision", "run", str(models.int8), "--source",
                          str(models.data / "test"), "--metrics", "0", "--metrics-host", "0.0.0.0", "--quiet"],
                         capture_output=True, text=True, timeout=60, env={**env(), "EDGEVISION_METRICS_TOKEN": ""})
    assert out.returncode == 2 and "need a token" in out.stderr and "Traceback" not in out.stderr


def test_a_bundle_may_turn_metrics_on_but_never_carry_the_token() -> None:
    from edgevision.errors import BadInput
    from edgevision.releases.runtime_config import Sink

    assert Sink.parse("metrics=9464").option() == ("metrics", 9464)
    assert Sink.parse("metrics-host=0.0.0.0").option() == ("metrics_host", "0.0.0.0")
    with pytest.raises(BadInput, match="secret never goes into a bundle"):
        Sink.parse("metrics-token=abcdefgh12")
    with pytest.raises(BadInput, match="expected a port"):
        Sink.parse("metrics=99999")
    with pytest.raises(BadInput):  # nor a file for the device to read: the token is the device's own secret
        Sink.parse("metrics-token-file=/home/pi/.ssh/id_ed25519")
    from edgevision.releases.device_secrets import names

    assert "metrics-token" in names()


def _families(text: str) -> dict[str, list]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_board_health_reads_thermal_zones_and_the_pi_throttling_flags(tmp_path: Path) -> None:
    """No Raspberry Pi here: a thermal directory laid out as the kernel's and a `vcgencmd` stand-in that answers
    as the Pi firmware does (thin fakes for hardware that cannot exist in a test)."""
    from prometheus_client import generate_latest

    from edgevision.sinks.board_health import parse_throttled
    from edgevision.sinks.prometheus import MetricsSink
    from edgevision.sinks.registry import SinkContext

    thermal = tmp_path / "thermal"
    for i, (kind, milli) in enumerate([("cpu-thermal", "61234"), ("absent", "-274000"), ("gpu", "48000")]):
        (thermal / f"thermal_zone{i}").mkdir(parents=True)
        (thermal / f"thermal_zone{i}" / "type").write_text(kind + "\n")
        (thermal / f"thermal_zone{i}" / "temp").write_text(milli + "\n")
    (thermal / "cooling_device0").mkdir()
    vcgencmd = tmp_path / "vcgencmd"
    vcgencmd.write_text("#!/bin/sh\n[ \"$1\" = get_throttled ] && echo throttled=0x50005\n")
    vcgencmd.chmod(0o755)
    sink = MetricsSink(SinkContext(labels=("a", "b")), port=0, thermal_root=thermal, vcgencmd=str(vcgencmd))
    try:
        fam = _families(generate_latest(sink.registry).decode())
    finally:
        sink.close()
    temps = {(s.labels["zone"], s.labels["type"]): s.value for s in fam["edgevision_soc_temperature_celsius"]}
    assert temps == {("thermal_zone0", "cpu-thermal"): 61.234, ("thermal_zone2", "gpu"): 48.0}
    flags = {(s.labels["condition"], s.labels["since_boot"]): s.value for s in fam["edgevision_throttled"]}
    assert flags[("under_voltage", "false")] == 1 and flags[("throttled", "false")] == 1
    assert flags[("frequency_capped", "false")] == 0 and flags[("under_voltage", "true")] == 1
    assert flags[("throttled", "true")] == 1 and flags[("soft_temperature_limit", "true")] == 0
    assert parse_throttled("garbage") is None and parse_throttled("throttled=0xZZ") is None
    assert "edgevision_drifting" not in fam, "no drift series when no monitor watches"


def test_histograms_follow_prometheus_bucket_rules_and_metric_names_are_declared() -> None:
    from prometheus_client import generate_latest

    from edgevision.pipeline.events import LabelEvent
    from edgevision.runtime.postprocess import Prediction
    from edgevision.sinks.prometheus import METRIC_NAMES, Histogram, MetricsSink
    from edgevision.sinks.registry import SinkContext
    from edgevision.sources.capture import CaptureStatus

    h = Histogram((0.1, 0.5, 1.0))
    for v in (0.05, 0.1, 0.3, 0.5, 2.0):
        h.observe(v)
    buckets, total = h.snapshot()
    assert buckets == [("0.1", 2.0), ("0.5", 4.0), ("1.0", 4.0), ("+Inf", 5.0)] and total == pytest.approx(2.95)

    sink = MetricsSink(SinkContext(model_name="m", labels=("a", "b"), release="r1", drift_signals=("confidence",)),
                       port=0)
    try:
        t = time.time()
        for i, (label, score) in enumerate([("a", 0.9), ("b", 0.4), ("", 0.1), ("a", 0.97)]):
            top = (Prediction(label, score, 0 if label == "a" else 1),) if label else ()
            sink.emit(LabelEvent.classified(i, "s", top, t - 0.02, t + i * 0.1,
                                            {"capture": 1.0, "preprocess": 2.0, "infer": 3.0, "post": 0.1}, dropped=i))
        sink.status(CaptureStatus("lost", "x"))
        sink.status(CaptureStatus("restored", "x"))
        fam = _families(generate_latest(sink.registry).decode())
    finally:
        sink.close()
    value = {s.name + json.dumps(s.labels, sort_keys=True): s.value for f in fam.values() for s in f}
    assert value["edgevision_frames_total{}"] == 4 and value["edgevision_dropped_frames_total{}"] == 3
    assert value['edgevision_labels_total{"label": "a"}'] == 2 and value["edgevision_unlabelled_frames_total{}"] == 1
    assert value["edgevision_source_reconnects_total{}"] == 1 and value["edgevision_source_up{}"] == 1
    assert value['edgevision_top1_confidence_bucket{"le": "0.5"}'] == 2
    assert value['edgevision_stage_seconds_sum{"stage": "infer"}'] == pytest.approx(0.012)
    psi = value['edgevision_drift_psi{"signal": "confidence"}']
    assert psi != psi, "NaN before the monitor's first verdict"
    exported = {s.name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
                for f in fam.values() for s in f}
    assert exported - set(METRIC_NAMES) == set(), "every exported family is declared (the dashboard test reads it)"
