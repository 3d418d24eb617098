"""Sinks: fan-out isolation and recovery, a real mosquitto broker, the live view in headless Chromium."""

from __future__ import annotations

import io
import json
import time
import urllib.request

import pytest

from edgevision.pipeline.events import LabelEvent
from edgevision.runtime.postprocess import Prediction
from edgevision.sinks.fanout import CallbackSink, FanOut
from edgevision.sinks.jsonl import JsonlSink
from edgevision.sources.capture import CaptureStatus
from tests.conftest import free_port
from tests.device.conftest import CHROMIUM_ARGS, Subscriber


def _event(i: int, label: str = "cat") -> LabelEvent:
    top = (Prediction(label, 0.9, 1), Prediction("dog", 0.1, 2))
    t = time.time()
    return LabelEvent.classified(i, "test", top, t - 0.01, t, {"infer": 1.0}, 0)


class Flaky:
    name = "flaky"

    def __init__(self, fail_times: int) -> None:
        self.fail_times, self.calls, self.got = fail_times, 0, []

    def emit(self, event: LabelEvent) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise ConnectionError("broker down")
        self.got.append(event.frame)

    def close(self) -> None:
        raise OSError("close failed too")


def test_fanout_isolates_a_failing_sink_and_retries_it(caplog: pytest.LogCaptureFixture) -> None:
    buf, seen = io.StringIO(), []
    flaky = Flaky(fail_times=2)
    fan = FanOut([flaky, JsonlSink(buf), CallbackSink(seen.append)], backoff_initial=0.05, backoff_max=0.05)
    for i in range(40):
        fan.emit(_event(i))
        time.sleep(0.01)
    assert [json.loads(line)["frame"] for line in buf.getvalue().splitlines()] == list(range(40))
    assert [e.frame for e in seen] == list(range(40))      # the others never missed an event
    assert flaky.calls > 2 and flaky.got and flaky.got[-1] == 39  # retried after backoff, and recovered
    assert any("recovered" in r.message for r in caplog.records)
    fan.close()  # a failing close is logged, not raised


def test_mqtt_sink_publishes_state_events_and_discovery(mosquitto) -> None:
    from edgevision.sinks.mqtt import MqttConfig, MqttSink

    broker = mosquitto.start()
    sub = Subscriber(broker.port, ["edgevision/test/#", "homeassistant/#"])
    sink = MqttSink(MqttConfig.from_url(f"mqtt://127.0.0.1:{broker.port}/edgevision/test", node_id="pi-cam",
                                        state_interval=0.0))
    assert sink.wait_connected(10)
    for i, label in enumerate(["cat", "cat", "dog", "dog", "cat"]):
        sink.emit(_event(i, label))
    sink.status(CaptureStatus("lost", "stream ended"))
    sink.close()
    msgs = sub.collect(5, lambda m: sum(t.endswith("availability") and p == "offline" for t, p, _ in m) >= 1)
    sub.close()
    by_topic: dict[str, list[str]] = {}
    for topic, payload, _ in msgs:
        by_topic.setdefault(topic, []).append(payload)
    assert by_topic["edgevision/test/availability"] == ["online", "offline"]
    states = [json.loads(p) for p in by_topic["edgevision/test/state"]]
    assert [s["label"] for s in states] == ["cat", "cat", "dog", "dog", "cat"]
    assert [s["label_id"] for s in states] == [s["label"] for s in states]  # no repeated names: the name itself
    assert len(by_topic["edgevision/test/event/cat"]) == 2 and len(by_topic["edgevision/test/event/dog"]) == 1
    assert json.loads(by_topic["edgevision/test/event/dog"][0])["frame"] == 2
    assert by_topic["edgevision/test/source"][-1] == "reconnecting"
    cfg = json.loads(by_topic["homeassistant/sensor/pi-cam/label/config"][0])
    assert cfg["state_topic"] == "edgevision/test/state" and cfg["value_template"] == "{{ value_json.label_id }}"
    assert cfg["availability_topic"] == "edgevision/test/availability" and cfg["unique_id"] == "edgevision_pi-cam_label"
    # a late subscriber (Home Assistant restarting) gets the retained state and discovery at once
    late = Subscriber(broker.port, ["edgevision/test/state", "homeassistant/#"])
    retained = late.collect(3, lambda m: len(m) >= 3)
    late.close()
    assert all(r for _, _, r in retained)
    assert json.loads(next(p for t, p, _ in retained if t.endswith("/state")))["label"] == "cat"


def test_mqtt_keeps_a_repeated_label_name_apart_by_index(mosquitto) -> None:
    """ImageNet names two classes 'crane' (bird 134, machine 517): two topics, two ids, and a change between them
    is a change of label."""
    from edgevision.sinks.mqtt import MqttConfig, MqttSink

    broker = mosquitto.start()
    sub = Subscriber(broker.port, ["ev/im/#"])
    labels = tuple(f"class{i}" for i in range(600))
    labels = (*labels[:134], "crane", *labels[135:517], "crane", *labels[518:])
    sink = MqttSink(MqttConfig.from_url(f"mqtt://127.0.0.1:{broker.port}/ev/im", node_id="cam", state_interval=60.0,
                                        labels=labels))
    assert sink.wait_connected(10)
    t = time.time()
    for i, index in enumerate((134, 517, 517, 134, 7)):
        top = (Prediction(labels[index], 0.6, index),)
        sink.emit(LabelEvent.classified(i, "test", top, t - 0.01, t, {"infer": 1.0}, 0))
    sink.close()
    msgs = sub.collect(5, lambda m: sum(tp.endswith("availability") and p == "offline" for tp, p, _ in m) >= 1)
    sub.close()
    by_topic: dict[str, list[str]] = {}
    for topic, payload, _ in msgs:
        by_topic.setdefault(topic, []).append(payload)
    assert [json.loads(p)["frame"] for p in by_topic["ev/im/event/crane_134"]] == [0, 3]
    assert [json.loads(p)["frame"] for p in by_topic["ev/im/event/crane_517"]] == [1]
    assert "ev/im/event/crane" not in by_topic and len(by_topic["ev/im/event/class7"]) == 1
    states = [json.loads(p) for p in by_topic["ev/im/state"]]  # 517 -> 517 is no change (state_interval 60 s)
    assert [(s["label"], s["label_id"], s["index"]) for s in states] == [
        ("crane", "crane #134", 134), ("crane", "crane #517", 517), ("crane", "crane #134", 134),
        ("class7", "class7", 7)]


def test_run_to_mqtt_survives_a_broker_that_starts_late(models, mosquitto, run_process) -> None:
    """Broker down when `run` starts: stdout keeps flowing, the MQTT sink connects once the broker is up."""
    run = run_process(models.int8, "--source", models.data / "test", "--loop", "--realtime",
                      "--mqtt", f"mqtt://127.0.0.1:{mosquitto.port}/ev/cam", "--mqtt-node", "cam1")
    run.wait_events(40, 60)                     # the other sink is unaffected by the dead broker
    broker = mosquitto.start()
    sub = Subscriber(broker.port, ["ev/cam/#"])
    msgs = sub.collect(30, lambda m: sum(t == "ev/cam/state" for t, _, _ in m) >= 3)
    sub.close()
    broker.stop()                               # the broker dies mid-run ...
    n = len(run.lines)
    run.wait_events(n + 30, 30)                 # ... stdout carries on ...
    broker.start()                              # ... and when it is back, so are the labels
    sub = Subscriber(broker.port, ["ev/cam/state"])
    again = sub.collect(40, lambda m: sum(not r for _, _, r in m) >= 2)  # fresh (not retained) states
    sub.close()
    assert sum(not r for _, _, r in again) >= 2, "no labels after the broker came back"
    assert run.stop() == 0, run.stderr
    assert "connection lost" in run.stderr
    # down at start: said once with its cause (not once per retry), then again on each change of state
    # (twice when a retry fell in the few seconds the broker was stopped mid-run)
    assert 1 <= run.stderr.count("cannot connect (connection refused") <= 2, run.stderr
    assert run.stderr.count("MQTT connected") == 2, run.stderr
    states = [json.loads(p) for t, p, _ in msgs if t == "ev/cam/state"]
    assert len(states) >= 3
    labels = {e["label"] for e in run.events}
    assert {s["label"] for s in states} <= labels and all(0 <= s["score"] <= 1 for s in states)
    assert any(t.startswith("ev/cam/event/") for t, _, _ in msgs) or len({s["label"] for s in states}) == 1


def test_live_view_of_edgevision_run_in_headless_chromium(chromium_path: str, models, run_process) -> None:
    """`edgevision run --web`: the page loads, shows the video, and the label text follows the events."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    run = run_process(models.int8, "--source", models.data / "test", "--loop", "--realtime", "--web", str(port),
                      "--no-stdout")
    from tests.device.conftest import wait_port

    wait_port(port, 60)
    url = f"http://127.0.0.1:{port}/"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url, wait_until="domcontentloaded")  # an MJPEG <img> never finishes "load"
        page.wait_for_function("document.getElementById('video').naturalWidth > 0", timeout=20000)
        size = page.evaluate("[document.getElementById('video').naturalWidth, "
                             "document.getElementById('video').naturalHeight]")
        assert size == [320, 320]           # 32 px frames are enlarged so the drawn labels stay readable
        texts, frames = set(), set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (len(texts) < 3 or len(frames) < 5):
            texts.add(page.inner_text("#label"))
            frames.add(page.inner_text("#timing"))
            time.sleep(0.1)
        from edgevision.runtime.classifier import Classifier

        labels = set(Classifier(models.int8).labels)
        assert len(texts) >= 3 and texts <= labels, texts   # the label text updates with the stream
        assert len(frames) >= 5 and "%" in page.inner_text("#topk")
        browser.close()
    snap = urllib.request.urlopen(url + "snapshot.jpg", timeout=5).read()
    assert snap[:2] == b"\xff\xd8"
    assert json.loads(urllib.request.urlopen(url + "latest.json", timeout=5).read())["label"] in labels
    assert run.stop() == 0, run.stderr
    assert run.lines == []                  # --no-stdout
    assert f"live view: {url}" in run.stderr


def test_web_view_binds_loopback_by_default_and_refuses_a_busy_port() -> None:
    from edgevision.errors import BadInput
    from edgevision.sinks.webview import WebView

    view = WebView(port=0)
    try:
        assert view.host == "127.0.0.1" and view.url.startswith("http://127.0.0.1:")
        with pytest.raises(BadInput, match="cannot listen"):
            WebView(port=view.port)
    finally:
        view.close()
