"""Sources report fps/size and hand RGB; the picamera2 adapter's formats; the watchdog and reconnect logic.

picamera2 needs libcamera and a Pi camera, and a hung V4L2 read needs a misbehaving driver:
neither can exist here, so those two are exercised with small stand-ins (the adapter and
the watchdog are what is under test, not the camera).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edgevision.errors import BadInput, MissingDependency
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.runtime.smoothing import ScoreSmoother
from edgevision.sources.capture import CaptureStatus, CaptureThread, LatestFrameSlot, ReconnectPolicy
from edgevision.sources.frame_sources import DECODE_THREADS, CaptureSource, FolderSource, open_source
from edgevision.sources.picamera import Picamera2Source, to_rgb


def _scene(h: int = 48, w: int = 64) -> np.ndarray:
    """An RGB test card: red left third, green middle, blue right, a gradient row."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, : w // 3, 0] = 200
    rgb[:, w // 3: 2 * w // 3, 1] = 180
    rgb[:, 2 * w // 3:, 2] = 160
    rgb[0] = np.linspace(0, 255, w, dtype=np.uint8)[:, None]
    return rgb


class FakePicamera2:
    """Stands in for picamera2.Picamera2: same methods, arrays laid out as libcamera delivers them.

    The byte order is picamera2's documented one, not the adapter's belief: the Picamera2 manual
    (datasheets.raspberrypi.com/camera/picamera2-manual.pdf, "Image formats") lists RGB888 as 24 bits
    per pixel ordered [B, G, R] and XRGB8888 as [B, G, R, 255]; its maintainer explains the DRM/libcamera
    naming behind it in github.com/raspberrypi/picamera2/issues/191 ("what is called XRGB8888 actually
    ends up with every pixel looking like [B, G, R, X] in a numpy array"), and users meet it in
    github.com/raspberrypi/picamera2/issues/848 (RGB888 arrives as B,G,R).

    ``deliver`` stands for a camera whose configuration comes back with another main format than
    the one asked for (picamera2 aligns configurations per sensor and Pi model); the adapter must
    go by what ``camera_configuration()`` reports.
    """

    def __init__(self, rgb: np.ndarray, stride_pad: int = 0, deliver: str | None = None) -> None:
        self.rgb, self.stride_pad, self.deliver = rgb, stride_pad, deliver
        self.config: dict[str, Any] = {}
        self.started = self.closed = False

    def create_video_configuration(self, main: dict, lores: dict | None = None, controls: dict | None = None) -> dict:
        cfg = {"main": dict(main), "controls": {"FrameDurationLimits": (33333, 33333)}}
        if lores:
            cfg["lores"] = dict(lores)
        return cfg

    def configure(self, config: dict) -> None:
        self.config = config
        if self.deliver:
            self.config["main"]["format"] = self.deliver

    def start(self) -> None:
        self.started = True

    def camera_configuration(self) -> dict:
        return self.config

    def capture_array(self, stream: str = "main") -> np.ndarray:
        fmt = self.config[stream]["format"]
        w, h = self.config[stream]["size"]
        rgb = cv2.resize(self.rgb, (w, h), interpolation=cv2.INTER_NEAREST)
        if fmt == "RGB888":
            return rgb[..., ::-1].copy()                      # libcamera RGB888 = B,G,R bytes
        if fmt == "BGR888":
            return rgb.copy()                                 # libcamera BGR888 = R,G,B bytes
        if fmt == "XRGB8888":
            return np.dstack([rgb[..., ::-1], np.full((h, w), 255, np.uint8)])
        if fmt == "YUV420":
            yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)   # (h*3/2, w)
            return np.pad(yuv, ((0, 0), (0, self.stride_pad))) if self.stride_pad else yuv
        raise AssertionError(fmt)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("fmt", ["RGB888", "XRGB8888"])
def test_picamera2_bgr_ordered_formats_arrive_as_rgb(fmt: str) -> None:
    cam = FakePicamera2(_scene(), deliver=fmt)
    src = Picamera2Source("main", (64, 48), camera_factory=lambda: cam)
    assert src.open().pixel_format == fmt
    frame = src.read()
    assert frame is not None and frame.image.shape == (48, 64, 3) and frame.image.flags.c_contiguous
    np.testing.assert_array_equal(frame.rgb(), _scene())


def test_picamera2_lores_yuv420_is_converted_and_reports_itself() -> None:
    cam = FakePicamera2(_scene(), stride_pad=0)
    src = Picamera2Source.from_spec("picamera2:lores:64x48")
    src.camera_factory = lambda: cam
    info = src.open()
    assert info == SourceInfo("picamera2:lores", "picamera2", True, 30.0, 64, 48, "YUV420")
    assert cam.config["lores"]["format"] == "YUV420" and cam.started
    frame = src.read()
    assert frame is not None and frame.image.shape == (48, 64, 3)
    # chroma is subsampled 2x2, so colors are close, not exact; R/G/B areas stay R/G/B
    rgb = frame.rgb()
    diff = np.abs(rgb.astype(int) - _scene().astype(int))[2:, :]
    assert np.median(diff) <= 3
    assert rgb[24, 5].argmax() == 0 and rgb[24, 32].argmax() == 1 and rgb[24, 60].argmax() == 2
    src.close()
    assert cam.closed


def test_yuv420_with_padded_stride() -> None:
    """libcamera pads rows to a stride: Y rows to S bytes, U and V rows to S/2 (two chroma rows per buffer row)."""
    h, w, stride = 48, 60, 64
    rgb = _scene(h, w)
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    y, u, v = i420[:h], i420[h:h + h // 4].reshape(h // 2, w // 2), i420[h + h // 4:].reshape(h // 2, w // 2)
    planes = [np.pad(y, ((0, 0), (0, stride - w)))]
    planes += [np.pad(c, ((0, 0), (0, (stride - w) // 2))).reshape(h // 4, stride) for c in (u, v)]
    out = to_rgb(np.vstack(planes), "YUV420", w)
    assert out.shape == (h, w, 3)
    np.testing.assert_array_equal(out, to_rgb(i420, "YUV420", w))  # padding changes nothing
    with pytest.raises(BadInput, match="not supported"):
        to_rgb(np.zeros((4, 4, 2), np.uint8), "YUYV", 4)


def test_picamera2_missing_gives_install_hint() -> None:
    with pytest.raises(MissingDependency, match=r"picamera2.*edgevision\[pi\]"):
        Picamera2Source("main").open()


def test_picamera2_spec_errors() -> None:
    with pytest.raises(BadInput, match="640x480"):
        Picamera2Source.from_spec("picamera2:main:big")
    with pytest.raises(BadInput, match="main or lores"):
        Picamera2Source.from_spec("picamera2:raw")


def test_video_file_reports_fps_and_size_and_hands_rgb(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (64, 48))
    for _ in range(6):
        writer.write(cv2.cvtColor(_scene(), cv2.COLOR_RGB2BGR))
    writer.release()
    src = open_source(path)
    assert isinstance(src, CaptureSource) and not src.live
    info = src.open()
    assert (info.fps, info.width, info.height, info.kind) == (12.0, 64, 48, "video")
    frames = [f for f in iter(src.read, None)]
    assert len(frames) == 6
    assert frames[0].order == "BGR"  # as OpenCV decodes it: the preprocessing swaps on the model-sized image
    assert np.abs(frames[0].rgb().astype(int) - _scene().astype(int))[4:].mean() < 6  # JPEG-lossy
    src.close()


def test_video_file_is_decoded_by_one_thread_with_the_same_frames(tmp_path: Path, monkeypatch) -> None:
    """A file is decoded by DECODE_THREADS FFmpeg threads (faster here than FFmpeg's frame threads); the
    frames are those of OpenCV's default decode, in order; a backend that refuses the setting still opens it."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (64, 48))
    rng = np.random.default_rng(3)
    for _ in range(8):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    cap = cv2.VideoCapture(str(path))
    expected = [img for _, img in iter(cap.read, (False, None))]
    cap.release()
    calls: list[tuple] = []
    real = cv2.VideoCapture

    def recording(*args):  # type: ignore[no-untyped-def]
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(cv2, "VideoCapture", recording)
    src = open_source(path)
    src.open()
    got = [f.image for f in iter(src.read, None)]
    src.close()
    assert len(got) == len(expected) == 8
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    assert calls == [(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, DECODE_THREADS])]

    def refusing(*args):  # type: ignore[no-untyped-def]
        calls.append(args)
        return real(str(tmp_path / "missing.avi")) if len(args) == 3 else real(*args)

    calls.clear()
    monkeypatch.setattr(cv2, "VideoCapture", refusing)
    src = open_source(path)
    assert src.open().width == 64
    assert len([f for f in iter(src.read, None)]) == 8
    src.close()
    assert [len(a) for a in calls] == [3, 2]


def test_folder_source_sorted_and_looped(tmp_path: Path) -> None:
    for name in ("b.png", "a.png", "sub/c.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / name), _scene())
    src = FolderSource(tmp_path, loop=True)
    src.open()
    names = [Path(src.read().source).name for _ in range(5)]  # type: ignore[union-attr]
    assert names == ["a.png", "b.png", "c.png", "a.png", "b.png"]


def test_open_source_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="unsupported stream scheme"):
        open_source("ftp://cam/x")
    with pytest.raises(BadInput, match="source not found"):
        open_source(tmp_path / "nope")
    assert open_source("rtsp://127.0.0.1:8554/cam").live  # type: ignore[union-attr]


# --- watchdog / reconnect -----------------------------------------------------------------------------------------

class FlakySource:
    """A live source whose instances deliver a few frames, then end or hang (a blocked driver call)."""

    live = True

    def __init__(self, plan: list[str], shared: dict[str, Any] | None = None) -> None:
        self.plan = plan
        self.shared = shared if shared is not None else {"instances": 0, "release": threading.Event(),
                                                         "closed": 0}
        self.mode = "ok"
        self.n = 0

    def fresh(self) -> FlakySource:
        return FlakySource(self.plan, self.shared)

    def open(self) -> SourceInfo:
        i = self.shared["instances"]
        self.shared["instances"] += 1
        self.mode = self.plan[i] if i < len(self.plan) else "ok"
        if self.mode == "refuse":
            raise BadInput("connection refused")
        return SourceInfo("flaky", "test", True, 100.0, 4, 4)

    def read(self) -> Frame | None:
        self.n += 1
        if self.n > 5:
            if self.mode == "end":
                return None
            if self.mode == "hang":
                self.shared["release"].wait(30)  # blocked until the test ends
                return None
        time.sleep(0.005)
        return Frame(np.zeros((4, 4, 3), np.uint8), self.n, "flaky", time.time(), 0.0)

    def close(self) -> None:
        self.shared["closed"] += 1


def _run_capture(src: FlakySource, policy: ReconnectPolicy, want: int, timeout: float = 15.0
                 ) -> tuple[CaptureThread, list[Frame], list[CaptureStatus]]:
    slot, stop, statuses = LatestFrameSlot(), threading.Event(), []
    src.open()
    thread = CaptureThread(src, slot, stop, policy=policy, on_status=statuses.append)
    thread.start()
    got: list[Frame] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        f = slot.take(timeout=0.1)
        if f is not None:
            got.append(f)
    stop.set()
    src.shared["release"].set()
    thread.join(5)
    return thread, got, statuses


def test_hung_read_is_abandoned_and_the_source_reopened() -> None:
    src = FlakySource(["hang", "hang", "ok"])
    thread, got, statuses = _run_capture(src, ReconnectPolicy(read_timeout=0.3, backoff_initial=0.05), want=20)
    assert len(got) == 20, statuses
    assert thread.hangs == 2 and thread.reconnects == 2
    states = [s.state for s in statuses]
    assert states.count("hung") == 2 and states.count("restored") == 2
    indices = [f.index for f in got]
    assert indices == sorted(set(indices))  # renumbered: no repeats after reconnecting


def test_ended_source_reconnects_with_growing_backoff() -> None:
    src = FlakySource(["end", "refuse", "refuse", "refuse", "ok"])
    policy = ReconnectPolicy(read_timeout=1.0, backoff_initial=0.05, backoff_factor=2.0, backoff_max=0.15)
    thread, got, statuses = _run_capture(src, policy, want=10)
    assert len(got) == 10
    attempts = [s for s in statuses if s.state == "reconnecting"]
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    assert [policy.delay(a.attempt) for a in attempts] == [0.05, 0.1, 0.15, 0.15]
    assert statuses[0].state == "lost" and statuses[-1].state == "restored" and thread.reconnects == 1


def test_give_up_after_stops_capture_with_an_error() -> None:
    src = FlakySource(["end"] + ["refuse"] * 100)
    policy = ReconnectPolicy(read_timeout=0.5, backoff_initial=0.05, backoff_max=0.05, give_up_after=0.4)
    thread, got, statuses = _run_capture(src, policy, want=1000, timeout=5)
    assert isinstance(thread.error, TimeoutError) and statuses[-1].state == "gave_up"
    assert len(got) <= 5


def test_smoother_moving_average_and_reset() -> None:
    sm = ScoreSmoother(3)
    vs = [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0])]
    outs = [sm.update(v).copy() for v in vs]
    np.testing.assert_allclose(outs[0], [1, 0])
    np.testing.assert_allclose(outs[1], [0.5, 0.5])
    np.testing.assert_allclose(outs[2], [1 / 3, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(outs[3], [0, 1])       # the first frame left the window
    sm.reset()
    np.testing.assert_allclose(sm.update(np.array([1.0, 0.0])), [1, 0])
    assert ScoreSmoother(1).update(vs[0]) is vs[0]


class WedgingPicamera2(FakePicamera2):
    """After a few frames capture_array blocks until the camera is closed (as a wedged libcamera request does)."""

    def __init__(self, rgb: np.ndarray, wedge_after: int | None) -> None:
        super().__init__(rgb)
        self.wedge_after, self.n, self.unwedge = wedge_after, 0, threading.Event()

    def capture_array(self, stream: str = "main") -> np.ndarray:
        self.n += 1
        if self.wedge_after is not None and self.n > self.wedge_after:
            self.unwedge.wait(30)
            raise RuntimeError("camera closed")
        return super().capture_array(stream)

    def close(self) -> None:
        super().close()
        self.unwedge.set()


def test_wedged_picamera2_is_closed_and_replaced() -> None:
    cams = [WedgingPicamera2(_scene(), wedge_after=3), WedgingPicamera2(_scene(), wedge_after=None)]
    made = iter(cams)
    src = Picamera2Source("main", (64, 48), camera_factory=lambda: next(made))
    slot, stop, statuses = LatestFrameSlot(), threading.Event(), []
    src.open()
    thread = CaptureThread(src, slot, stop, policy=ReconnectPolicy(read_timeout=0.3, backoff_initial=0.05),
                           on_status=statuses.append)
    thread.start()
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 10 and time.monotonic() < deadline:
        f = slot.take(timeout=0.1)
        if f is not None:
            got.append(f)
    stop.set()
    thread.join(5)
    assert len(got) == 10 and thread.hangs == 1 and thread.reconnects == 1
    assert cams[0].closed and cams[1].n >= 7            # the wedged camera was released, the new one delivers
    np.testing.assert_array_equal(got[-1].rgb(), _scene())


def _broken_picamera2(tmp_path, monkeypatch, missing: str) -> None:
    """An installed picamera2 whose import fails on ``missing``, as on Debian without kms++ (device lab, trixie)."""
    pkg = tmp_path / "picamera2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"import {missing}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("picamera2", missing):
        monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.mark.parametrize(("missing", "hint"), [("pykms", "python3-kms++"), ("libcamera", "--system-site-packages"),
                                               ("simplejpeg", "'simplejpeg'")])
def test_picamera2_installed_but_not_importable_names_what_is_missing(tmp_path, monkeypatch, missing, hint) -> None:
    _broken_picamera2(tmp_path, monkeypatch, missing)
    with pytest.raises(BadInput, match=f"picamera2 is installed but cannot import '{missing}'") as err:
        Picamera2Source("main").open()
    assert hint in str(err.value) and "edgevision[pi]" not in str(err.value)
