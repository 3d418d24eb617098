"""Frame sources: image folders, single images, video files, cameras and stream URLs.

Sources hand out frames in the order OpenCV decodes them (BGR, said in ``Frame.order``);
the preprocessing swaps channels on the model-sized image. File sources are *pulled* (every
frame is classified, in order, decoded ahead in a thread); cameras and URLs are *live* (a
capture thread keeps only the newest frame, and decodes only the frames the model will take:
``grab()`` runs continuously, ``retrieve()`` only on demand).
"""

from __future__ import annotations

import logging
import stat
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgevision.errors import BadInput
from edgevision.plainfile import kind_of
from edgevision.redact import userinfo_of, with_userinfo, without_userinfo
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.runtime.images import IMAGE_EXTENSIONS, is_image_path, read_image

log = logging.getLogger("edgevision.source")

DECODE_THREADS = 1  # FFmpeg threads decoding a video file (see CaptureSource._params)


class FrameSource(Protocol):
    """What the pipeline needs from a source."""

    live: bool

    def open(self) -> SourceInfo: ...

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the stream."""
        ...

    def close(self) -> None: ...


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, in sorted relative-path order (the documented event order)."""
    return sorted((p for p in folder.rglob("*") if p.is_file() and is_image_path(p)),
                  key=lambda p: p.relative_to(folder).as_posix())


class FolderSource:
    """Images from a folder (recursively, sorted) or a single image file; optionally looped."""

    live = False

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        self.path, self.loop = Path(path), loop
        self._files: list[Path] = []
        self._pos = 0
        self._count = 0
        self.skipped = 0

    def open(self) -> SourceInfo:
        self._files = list_images(self.path) if self.path.is_dir() else [self.path]
        if not self._files:
            raise BadInput(f"{self.path}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        return SourceInfo(name=str(self.path), kind="folder" if self.path.is_dir() else "image",
                          live=False, fps=None, width=None, height=None)

    def read(self) -> Frame | None:
        while True:
            if self._pos >= len(self._files):
                if not self.loop or self.skipped >= len(self._files):
                    return None
                self._pos, self.skipped = 0, 0
            p = self._files[self._pos]
            self._pos += 1
            t0 = time.perf_counter()
            try:
                img = read_image(p, order="BGR")
            except BadInput as exc:
                if not self.path.is_dir():  # the one image asked for: an error, not an empty run
                    raise
                self.skipped += 1
                log.warning("skipping %s", exc)
                continue
            frame = Frame(img, self._count, str(p), time.time(), (time.perf_counter() - t0) * 1e3, "BGR")
            self._count += 1
            return frame

    def close(self) -> None:
        self._files = []


class CaptureSource:
    """OpenCV ``VideoCapture``: video files, V4L2 camera indices, HTTP MJPEG and RTSP URLs.

    opencv-python-headless ships FFmpeg, which reads both ``multipart/x-mixed-replace``
    MJPEG over HTTP and RTSP. Network streams get FFmpeg-level open/read timeouts so a dead
    server usually surfaces as an ended read; the capture watchdog covers the rest.
    """

    def __init__(self, target: str | int, live: bool, kind: str, timeout_s: float = 5.0) -> None:
        self.target, self.live, self.kind, self.timeout_s = target, live, kind, timeout_s
        # what frames, logs and errors name it by: a URL without its credentials (only OpenCV sees those)
        self.shown = without_userinfo(target) if isinstance(target, str) else str(target)
        self._cap: Any = None
        self._count = 0
        self._raw_jpeg = False          # MJPEG stream read as packets: only frames that are used get decoded
        self._grabbed_at: tuple[float, float] | None = None  # wall time and duration (ms) of the last grab

    def fresh(self) -> CaptureSource:
        """A new, unopened instance with the same settings (for reconnecting)."""
        return CaptureSource(self.target, self.live, self.kind, self.timeout_s)

    def _params(self) -> list[int]:
        import cv2

        if self.kind == "video":
            # One decoder thread: a file's frames are read in order by one thread (the read-ahead, on the core
            # the interpreter leaves it), and FFmpeg's frame threads only add a hand-off per frame. With
            # OpenCV 5's FFmpeg they made a 640x480 MJPEG decode 15-20 % slower on a 2-vCPU VM, idle core
            # or not (1000 vs 1195 FPS; MPEG-4 2000 vs 2400), while using more CPU; a decode-dominated run
            # gains 3.4-3.7 % (benchmarks/results/2026-12-01-runtime-frames-dev-vm.md).
            return [getattr(cv2, "CAP_PROP_N_THREADS", 70), DECODE_THREADS]
        if self.kind != "stream":
            return []
        ms = int(self.timeout_s * 1000)
        return [getattr(cv2, "CAP_PROP_OPEN_TIMEOUT_MSEC", 53), ms, getattr(cv2, "CAP_PROP_READ_TIMEOUT_MSEC", 54), ms]

    def open(self) -> SourceInfo:
        import cv2

        _quiet_opencv(cv2)
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target)
        else:
            backend = cv2.CAP_FFMPEG if self.kind == "stream" else cv2.CAP_ANY
            params = self._params()
            cap = cv2.VideoCapture(self.target, backend, params)
            if not cap.isOpened() and self.kind == "video":  # a backend without the decoder-thread setting
                cap.release()
                cap = cv2.VideoCapture(self.target, backend)
        if not cap.isOpened():
            cap.release()
            raise BadInput(f"{self.shown}: cannot open {self.kind}")
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0) or None
        if fps is not None and not 0 < fps < 1000:  # FFmpeg reports 90000 or 1000 for some MJPEG streams
            fps = None
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or None, int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
        fmt = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") if fourcc else ""
        if self.live and self.kind == "stream" and fmt.upper() in ("MJPG", "MJPEG"):
            # FFmpeg decodes in grab(); in raw mode grab() only reads the JPEG packet, and retrieve() hands
            # it over for cv2.imdecode, so frames the latest-frame slot would drop are never decoded.
            self._raw_jpeg = bool(cap.set(cv2.CAP_PROP_FORMAT, -1))
        return SourceInfo(name=self.shown, kind=self.kind, live=self.live, fps=fps, width=w, height=h,
                          pixel_format=f"{fmt + ' decoded to ' if fmt else ''}BGR by OpenCV")

    def read(self) -> Frame | None:
        if not self.live:  # a file: one call into OpenCV, not grab() and retrieve(), so a reader thread that
            return self._read_decoded()  # is the slower side waits for the GIL once per frame, not twice
        while self.grab():  # live: the capture time is when grab() returned, before decoding
            frame = self.retrieve()
            if frame is not None or not self._raw_jpeg:  # a corrupt packet of an MJPEG stream is skipped
                return frame
        return None

    def _read_decoded(self) -> Frame | None:
        """The next frame of a file, read and decoded by one ``cap.read()``."""
        cap = self._cap
        if cap is None:
            return None
        t_wall, t0 = time.time(), time.perf_counter()
        ok, img = cap.read()
        if not ok or img is None:
            if self.kind == "video":
                import cv2

                self._check_complete(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
            return None
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        frame = Frame(img, self._count, self.shown, t_wall, (time.perf_counter() - t0) * 1e3, "BGR")
        self._count += 1
        return frame

    def grab(self) -> bool:
        """Take the next frame off the device or stream without converting it (cheap; False at the end)."""
        cap = self._cap
        if cap is None:
            return False
        t0 = time.perf_counter()
        ok = bool(cap.grab())
        self._grabbed_at = (time.time(), (time.perf_counter() - t0) * 1e3) if ok else None
        if not ok and self.kind == "video":
            import cv2

            self._check_complete(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        return ok

    def retrieve(self) -> Frame | None:
        """Decode the last grabbed frame (BGR, as OpenCV delivers it); None if there is none or it is corrupt."""
        import cv2

        cap, grabbed = self._cap, self._grabbed_at
        if cap is None or grabbed is None:
            return None
        self._grabbed_at = None
        t0 = time.perf_counter()
        ok, img = cap.retrieve()
        if not ok or img is None:
            return None
        if self._raw_jpeg:
            img = cv2.imdecode(img.reshape(-1), cv2.IMREAD_COLOR) if img.size else None
            if img is None:
                log.warning("%s: skipping a corrupt JPEG frame", self.shown)
                return None
        elif img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        t_wall, grab_ms = grabbed  # the frame arrived when grab() returned: its capture time
        frame = Frame(img, self._count, self.shown, t_wall, grab_ms + (time.perf_counter() - t0) * 1e3, "BGR")
        self._count += 1
        return frame

    def _check_complete(self, declared: int) -> None:
        """A video file that ends well before the frame count its container declares is truncated or
        corrupt: say so (exit 1) instead of ending as if it were complete. Counts of some containers are
        estimates, hence the margin."""
        if declared > 0 and self._count < declared * 0.9 - 1:
            raise BadInput(f"{self.shown}: video ended after {self._count} of the {declared} frames its header "
                           "declares (truncated or corrupt file)")

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


def _quiet_opencv(cv2: Any) -> None:
    """Keep FFmpeg's and OpenCV's per-attempt chatter (connection refused, stream timeout) out of the journal:
    the capture supervisor logs one line per event instead. Users can still set both variables themselves."""
    import os

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" in os.environ:
        return
    logging = getattr(getattr(cv2, "utils", None), "logging", None)  # absent from Debian bookworm's OpenCV 4.6
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(2)  # OpenCV's LOG_LEVEL_ERROR, the same setting through the older binding


def single_image(src: object) -> bool:
    """One image file: the pipeline reads it on the caller's thread; every other source is read in a thread
    of its own (read-ahead or capture), which wants a core left to it (``default_threads``)."""
    return isinstance(src, FolderSource) and not src.path.is_dir()


STREAM_SCHEMES = ("http", "https", "rtsp", "rtsps", "rtmp", "udp", "tcp")


def open_source(spec: str | int | Path, loop: bool = False, timeout_s: float = 5.0,
                credentials: str | None = None) -> FrameSource:
    """Pick a source from a user string.

    ``0`` (V4L2 camera index), ``picamera2`` / ``picamera2:lores`` / ``picamera2:main:1280x720``,
    ``rtsp://…`` / ``http://…`` (MJPEG), a folder, an image, or a video file. ``credentials``
    (``user:password``, from the device's configuration) go into a URL that has none, for opening only.
    """
    text = str(spec)
    if isinstance(spec, int) or text.isdigit():
        return CaptureSource(int(text), live=True, kind="camera", timeout_s=timeout_s)
    if text == "picamera2" or text.startswith("picamera2:"):
        from edgevision.sources.picamera import Picamera2Source

        return Picamera2Source.from_spec(text)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in STREAM_SCHEMES:
            raise BadInput(f"{without_userinfo(text)}: unsupported stream scheme {scheme!r} "
                           f"(use {', '.join(STREAM_SCHEMES)})")
        if credentials and userinfo_of(text) is None:
            text = with_userinfo(text, credentials)
        if scheme in ("http", "https"):  # MJPEG read by edgevision (bounded parts); anything else by OpenCV
            from edgevision.sources.mjpeg import MjpegSource

            url = text
            return MjpegSource(url, timeout_s, lambda: CaptureSource(url, live=True, kind="stream",
                                                                    timeout_s=timeout_s))
        return CaptureSource(text, live=True, kind="stream", timeout_s=timeout_s)
    p = Path(text)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise BadInput(f"{p}: source not found (give an image, folder, video file, camera index, picamera2 or "
                       "URL)") from None
    except OSError as exc:
        raise BadInput(f"{p}: cannot open source ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISCHR(mode) and p.name.startswith("video"):  # /dev/videoN: a V4L2 camera by its device path
        return CaptureSource(str(p), live=True, kind="camera", timeout_s=timeout_s)
    if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):  # a FIFO or a device would block the decoder for good
        raise BadInput(f"{p}: source is {kind_of(mode)}, not a regular file, a folder or a camera")
    if p.is_dir() or is_image_path(p):
        return FolderSource(p, loop=loop)
    return CaptureSource(str(p), live=False, kind="video")
