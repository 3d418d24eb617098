"""The frame path at the model's pace: read-ahead for files, decode-on-demand for live sources,
preprocessing into the input tensor, picamera2 asked for the model's size and byte order,
each event serialised once.

picamera2 is the one stand-in (no Pi camera here): the fake from test_sources_and_watchdog,
the thinnest seam the adapter has (its camera object).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgevision.model.spec import PreprocessSpec
from edgevision.pipeline.events import LabelEvent
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from edgevision.runtime.classifier import Classifier
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.runtime.postprocess import Prediction
from edgevision.sinks.webview import annotate
from edgevision.sources import readahead
from edgevision.sources.capture import CaptureThread, ReconnectPolicy
from edgevision.sources.demand import DemandSlot, LazyGrabber
from edgevision.sources.frame_sources import CaptureSource, open_source
from edgevision.sources.picamera import Picamera2Source, covering_size
from edgevision.sources.readahead import ReadAhead
from tests.device.test_sources_and_watchdog import FakePicamera2, _scene


class CountingSource:
    """A pulled source of ``n`` numbered frames that records how far ahead of the consumer it was read."""

    live = False

    def __init__(self, n: int, fail_at: int | None = None, shape: tuple[int, int] = (8, 8)) -> None:
        self.n, self.fail_at, self.shape = n, fail_at, shape
        self.reads = 0
        self.closed = False
        self.thread: str | None = None

    def open(self) -> SourceInfo:
        return SourceInfo("counting", "video", False, None, None, None)

    def read(self) -> Frame | None:
        self.thread = threading.current_thread().name
        if self.reads == self.fail_at:
            self.reads += 1
            raise OSError("disk went away")
        if self.reads >= self.n:
            return None
        img = np.full((*self.shape, 3), self.reads % 256, np.uint8)
        self.reads += 1
        return Frame(img, self.reads - 1, "counting", time.time(), 0.0)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("nap_s", [0.0, 0.005])  # the consumer blocks at once, or naps before it blocks
def test_read_ahead_keeps_order_drops_nothing_and_is_bounded(nap_s: float) -> None:
    src = CountingSource(50)
    ahead = ReadAhead(src, depth=3, nap_s=nap_s).start()
    got = []
    while (f := ahead.read()) is not None:
        time.sleep(0.002)  # a consumer slower than the source: the queue fills and stays bounded
        assert src.reads - len(got) <= 3 + 2, "read further ahead than the bound"
        got.append(f.index)
    assert got == list(range(50)) and ahead.read() is None  # the end stays the end
    ahead.close()
    assert src.closed and src.thread == "edgevision-readahead"


@pytest.mark.parametrize("nap_s", [0.0, 0.005])
def test_read_ahead_bounds_bytes_and_raises_errors_in_stream_order(nap_s: float) -> None:
    src = CountingSource(10, fail_at=4, shape=(100, 100))  # 30 kB frames, 40 kB budget: one frame ahead
    ahead = ReadAhead(src, depth=8, max_bytes=40_000, nap_s=nap_s).start()
    time.sleep(0.2)
    assert src.reads <= 2
    got = [ahead.read().index for _ in range(4)]  # type: ignore[union-attr]
    with pytest.raises(OSError, match="disk went away"):
        ahead.read()
    assert got == [0, 1, 2, 3] and ahead.read() is None
    ahead.close()
    assert src.closed


def test_read_ahead_close_stops_a_long_source() -> None:
    src = CountingSource(10_000)
    ahead = ReadAhead(src, depth=2).start()
    assert ahead.read() is not None
    ahead.close()
    assert src.closed and src.reads < 10


class GatedSource(CountingSource):
    """Frames only while ``gate`` is set: a source that stalls (a slow disk, a network share)."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.gate = threading.Event()

    def read(self) -> Frame | None:
        self.gate.wait()
        return super().read()


def test_read_ahead_naps_briefly_then_blocks_and_keeps_its_timeout() -> None:
    src = GatedSource(3)
    ahead = ReadAhead(src, depth=2, nap_s=0.005).start()
    t0 = time.perf_counter()
    assert ahead.read(timeout=0.05) is None  # nothing came: the timeout holds, naps or not
    assert 0.045 <= time.perf_counter() - t0 < 0.5
    cpu0, t0 = time.thread_time(), time.perf_counter()
    threading.Timer(0.5, src.gate.set).start()
    first = ahead.read()  # waits 0.5 s: naps for 5 ms, then sleeps until the frame comes
    assert first is not None and first.index == 0 and time.perf_counter() - t0 >= 0.45
    assert time.thread_time() - cpu0 < 0.03, "the consumer polled a stalled source instead of blocking"
    assert [f.index for f in iter(ahead.read, None)] == [1, 2]
    ahead.close()


def test_read_ahead_does_not_nap_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "usable_cores", lambda: 1)  # e.g. under `taskset -c 0`
    ahead = ReadAhead(CountingSource(3), nap_s=0.005)
    assert ahead.nap_s == 0.0
    assert [f.index for f in iter(ahead.read, None)] == [0, 1, 2]
    ahead.close()
    monkeypatch.setattr(readahead, "usable_cores", lambda: 4)
    assert ReadAhead(CountingSource(1), nap_s=0.005).nap_s == 0.005


class TwoPhaseCamera:
    """A live source faster than the model, split like OpenCV's grab()/retrieve(); counts the decodes."""

    live = True

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.grabs = self.decodes = 0
        self._next = 0.0
        self._grabbed_at: float | None = None

    def open(self) -> SourceInfo:
        self._next = time.perf_counter()
        return SourceInfo("two-phase", "camera", True, self.fps, 16, 16)

    def grab(self) -> bool:
        self._next += 1 / self.fps
        time.sleep(max(0.0, self._next - time.perf_counter()))
        self.grabs += 1
        self._grabbed_at = time.time()
        return True

    def retrieve(self) -> Frame | None:
        time.sleep(0.002)  # "decoding"
        self.decodes += 1
        return Frame(np.zeros((16, 16, 3), np.uint8), self.grabs, "two-phase", self._grabbed_at or 0.0, 2.0, "BGR")

    def read(self) -> Frame | None:
        return self.retrieve() if self.grab() else None

    def close(self) -> None:
        pass


def test_live_source_decodes_only_the_frames_the_model_takes() -> None:
    cam, slot, stop = TwoPhaseCamera(fps=400), DemandSlot(), threading.Event()
    thread = CaptureThread(cam, slot, stop, policy=ReconnectPolicy(read_timeout=2.0),
                           reader_for=lambda s: LazyGrabber(s, slot).next)
    thread.start()
    ages, taken = [], 0
    t_end = time.monotonic() + 1.5
    while time.monotonic() < t_end:
        frame = slot.take(timeout=1.0)
        assert frame is not None
        taken += 1
        ages.append(time.time() - frame.t_capture)
        time.sleep(0.025)  # the "model": 40 FPS against a 400 FPS camera
    stop.set()
    thread.join(5)
    assert cam.grabs > 5 * taken                 # every frame is taken off the stream...
    assert cam.decodes <= 1.5 * taken + 3        # ...but only about the ones the model takes are decoded
    assert slot.dropped >= cam.grabs - cam.decodes - 2
    assert float(np.median(ages[5:])) < 0.025    # the frame the model gets is fresher than one inference period


def test_waiting_consumer_is_served_by_the_next_grab() -> None:
    slot = DemandSlot()
    assert slot.wants(0.01)  # nothing known yet: decode
    slot.put(Frame(np.zeros((2, 2, 3), np.uint8), 0, "t", time.time(), 0.0))
    assert not slot.wants(0.01)  # a fresh frame is waiting: no decode
    assert slot.take() is not None
    time.sleep(0.05)
    slot.put(Frame(np.zeros((2, 2, 3), np.uint8), 1, "t", time.time(), 0.0))
    slot.take()  # the consumer's period is now known (~50 ms)
    busy = slot._busy
    assert busy is not None and busy >= 0.05
    assert not slot.wants(0.005)  # just taken: the next take is ~50 ms away
    time.sleep(busy + 0.01)
    assert slot.wants(0.005)
    assert slot.take(timeout=0.01) is None and slot.misses == 1  # the consumer had to wait: start earlier
    assert slot._margin == pytest.approx(0.25 * slot._busy)


def test_mjpeg_stream_is_read_as_packets_and_decoded_on_demand(models, mjpeg_server) -> None:
    server = mjpeg_server(models.data / "test", fps=50).start()
    src = CaptureSource(server.url, live=True, kind="stream")
    src.open()
    try:
        assert src._raw_jpeg  # FFmpeg hands over the JPEG packets; grab() does not decode
        assert src.grab() and src.grab()
        frame = src.retrieve()
        assert frame is not None and frame.order == "BGR" and frame.image.shape[2] == 3
        assert src.retrieve() is None  # one retrieve per grab
    finally:
        src.close()


def test_pipeline_on_a_video_file_reads_ahead_in_order(models, tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    images = sorted((models.data / "test").rglob("*.png"))[:12]
    for p in images:
        writer.write(cv2.resize(cv2.imread(str(p)), (64, 48)))
    writer.release()
    clf = Classifier(models.int8)
    ahead = list(Pipeline(clf, open_source(path), PipelineOptions()).events())
    serial = list(Pipeline(clf, open_source(path), PipelineOptions(read_ahead=0)).events())
    assert [e.frame for e in ahead] == list(range(len(images)))
    assert [(e.label, e.top_k) for e in ahead] == [(e.label, e.top_k) for e in serial]


@pytest.mark.parametrize("variant", ["int8", "float32"])
def test_classify_into_the_tensor_equals_the_reference_path(models, variant: str) -> None:
    clf = Classifier(getattr(models, variant))
    rng = np.random.default_rng(0)
    for shape in ((48, 64), (32, 32), (100, 30)):
        rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        reference = clf.infer(clf.preprocess(rgb))  # set_tensor of the Preprocessor's array
        np.testing.assert_array_equal(clf.scores(rgb), reference)
        np.testing.assert_array_equal(clf.scores(np.ascontiguousarray(rgb[..., ::-1]), order="BGR"), reference)
    assert clf.scores(rgb) is not clf.scores(rgb)  # results are not views of the interpreter's buffers


def test_picamera2_is_asked_for_the_models_order_and_size() -> None:
    cam = FakePicamera2(_scene(240, 320))
    cam.sensor_resolution = (4056, 3040)  # type: ignore[attr-defined]  # the HQ camera, 4:3
    arrays: list[np.ndarray] = []
    capture = cam.capture_array
    cam.capture_array = lambda stream="main": arrays.append(capture(stream)) or arrays[-1]  # type: ignore[method-assign]
    src = Picamera2Source.from_spec("picamera2")
    src.camera_factory = lambda: cam
    src.prefer(PreprocessSpec(224, 224))
    info = src.open()
    assert cam.config["main"] == {"size": (320, 224), "format": "BGR888"}  # R,G,B bytes, the model's order
    assert (info.width, info.height, info.pixel_format) == (320, 224, "BGR888")
    frame = src.read()
    assert frame is not None and frame.order == "RGB" and np.shares_memory(frame.image, arrays[-1])  # not copied
    src.close()

    cam2 = FakePicamera2(_scene(240, 320))
    src2 = Picamera2Source("main", (160, 120), camera_factory=lambda: cam2)
    src2.prefer(PreprocessSpec(32, 32, color="BGR"))
    src2.open()
    assert cam2.config["main"] == {"size": (160, 120), "format": "RGB888"}  # the user's size is kept
    f2 = src2.read()
    assert f2 is not None and f2.order == "BGR"
    np.testing.assert_array_equal(f2.rgb(), cv2.resize(_scene(240, 320), (160, 120), interpolation=cv2.INTER_NEAREST))
    fresh = src2.fresh()
    assert fresh.order == "BGR" and fresh.size == (160, 120)


def test_covering_size() -> None:
    assert covering_size((224, 224), (4056, 3040)) == (320, 224)
    assert covering_size((96, 96), None) == (128, 96)
    assert covering_size((320, 180), (1920, 1080)) == (320, 180)
    w, h = covering_size((300, 300), (1, 1))
    assert w >= 300 and h >= 300 and w % 32 == 0 and h % 2 == 0


def test_event_is_serialised_once_for_every_sink() -> None:
    e = LabelEvent.classified(1, "s", (Prediction("cat", 0.9, 3),), 1.0, 1.1, {"infer": 1.0}, 0)
    assert e.to_json() is e.to_json()
    import json

    assert json.loads(e.to_json()) == e.to_dict()


def test_web_view_draws_on_bgr_frames_without_swapping() -> None:
    rgb = _scene(240, 320)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    e = LabelEvent.classified(0, "s", (Prediction("cat", 0.9, 3),), 1.0, 1.1, {}, 0)
    out = annotate(bgr, e, order="BGR")
    np.testing.assert_array_equal(out, annotate(rgb, e))
    assert not np.shares_memory(out, bgr)
