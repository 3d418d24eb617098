"""picamera2 (libcamera) as a frame source on a Raspberry Pi: a thin adapter.

picamera2 imports the system libcamera bindings, which exist only on a Pi, so this
module is exercised in tests with an injected stand-in camera object; what it owns and
tests is the part that goes wrong in practice: pixel formats. picamera2 names formats
after the DRM fourcc, so ``RGB888`` arrays are B,G,R in memory and ``XRGB8888`` arrays
are B,G,R,X (the Picamera2 manual, "Image formats"; raspberrypi/picamera2#191); the Pi 4's lores
stream can only be ``YUV420`` (a (h*3/2) x stride plane).

Given the model's preprocessing spec (``prefer``), the stream is requested from the ISP in
the byte order the model wants and at the smallest size of the sensor's aspect that covers
the model's input, so on the Pi no full-resolution frame is copied or converted: the
array picamera2 returns goes to the resize as it is, with its channel order in ``Frame.order``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edgevision.errors import BadInput
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.sources.picamera_import import picamera2_import_error

log = logging.getLogger("edgevision.source")

# picamera2 format -> how to turn its array into RGB
_TO_RGB: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "RGB888": lambda a: a[..., ::-1],       # bytes B,G,R
    "BGR888": lambda a: a,                  # bytes R,G,B
    "XRGB8888": lambda a: a[..., 2::-1],    # bytes B,G,R,X
    "XBGR8888": lambda a: a[..., :3],       # bytes R,G,B,X
}
_YUV = ("YUV420", "YVU420")
DEFAULT_SIZES = {"main": (640, 480), "lores": (320, 240)}
# picamera2 format -> (channel order of its first three bytes, the HxWx3 view of the array)
_NATIVE: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "RGB888": ("BGR", lambda a: a),
    "BGR888": ("RGB", lambda a: a),
    "XRGB8888": ("BGR", lambda a: a[..., :3]),
    "XBGR8888": ("RGB", lambda a: a[..., :3]),
}
FORMAT_FOR_ORDER = {"RGB": "BGR888", "BGR": "RGB888"}  # the 3-byte format whose memory order is the model's


def frame_array(array: np.ndarray, fmt: str, width: int, order: str = "RGB") -> tuple[np.ndarray, str]:
    """One picamera2 array as an HxWx3 image and its channel order, converting only what must be:
    YUV is converted (to ``order``), 3-byte RGB formats are handed over as they are."""
    import cv2

    if fmt in _YUV:
        bgr = order == "BGR"
        code = {("YUV420", False): cv2.COLOR_YUV2RGB_I420, ("YUV420", True): cv2.COLOR_YUV2BGR_I420,
                ("YVU420", False): cv2.COLOR_YUV2RGB_YV12, ("YVU420", True): cv2.COLOR_YUV2BGR_YV12}[(fmt, bgr)]
        return np.ascontiguousarray(cv2.cvtColor(array, code)[:, :width]), "BGR" if bgr else "RGB"
    native = _NATIVE.get(fmt)
    if native is None:
        raise BadInput(f"picamera2 format {fmt!r} is not supported; use RGB888, BGR888, XRGB8888 or YUV420")
    got, view = native
    return np.ascontiguousarray(view(array)[:, :width]), got  # no copy unless the array is padded or 4-byte


def covering_size(model: tuple[int, int], sensor: tuple[int, int] | None) -> tuple[int, int]:
    """The smallest size of the sensor's aspect (4:3 if unknown) covering ``model`` (w, h); width a multiple
    of 32 and height even, as the Pi's ISP wants them."""
    tw, th = model
    sw, sh = sensor if sensor and sensor[0] > 0 and sensor[1] > 0 else (4, 3)
    aspect = sw / sh
    h = max(th, -(-tw * sh // sw))
    w = max(tw, round(h * aspect))
    return -(-w // 32) * 32, h + (h % 2)


def to_rgb(array: np.ndarray, fmt: str, width: int) -> np.ndarray:
    """Convert one picamera2 array in format ``fmt`` to contiguous HxWx3 RGB uint8."""
    import cv2

    if fmt in _YUV:
        code = cv2.COLOR_YUV2RGB_I420 if fmt == "YUV420" else cv2.COLOR_YUV2RGB_YV12  # not YUV420p2RGB: that is YV12
        return np.ascontiguousarray(cv2.cvtColor(array, code)[:, :width])
    conv = _TO_RGB.get(fmt)
    if conv is None:
        raise BadInput(f"picamera2 format {fmt!r} is not supported; use RGB888, XRGB8888 or YUV420")
    return np.ascontiguousarray(conv(array)[:, :width])


class Picamera2Source:
    """Frames from picamera2's ``main`` (RGB888) or ``lores`` (YUV420) stream."""

    live = True

    def __init__(self, stream: str = "main", size: tuple[int, int] | None = None, fps: float | None = None,
                 camera_factory: Callable[[], Any] | None = None) -> None:
        if stream not in DEFAULT_SIZES:
            raise BadInput(f"picamera2 stream must be main or lores, got {stream!r}")
        self.stream, self.fps = stream, fps
        self.size = size or DEFAULT_SIZES[stream]
        self.sized = size is not None  # the user chose the size: prefer() keeps it
        self.order = "BGR"              # picamera2's default RGB888 is B,G,R in memory
        self.model_size: tuple[int, int] | None = None
        self.camera_factory = camera_factory
        self._cam: Any = None
        self._fmt = ""
        self._width = self.size[0]
        self._count = 0

    @classmethod
    def from_spec(cls, text: str) -> Picamera2Source:
        """``picamera2``, ``picamera2:lores``, ``picamera2:main:1280x720``."""
        parts = text.split(":")[1:]
        stream = parts[0] if parts else "main"
        size = None
        if len(parts) > 1:
            try:
                w, h = (int(v) for v in parts[1].lower().split("x"))
                size = (w, h)
            except ValueError:
                raise BadInput(f"{text}: size must look like 640x480") from None
        return cls(stream, size)

    def prefer(self, spec: Any) -> None:
        """Ask the ISP for what the model takes: its channel order (``spec.color``) and, unless the user
        gave a size, the smallest sensor-shaped size covering ``spec.width`` x ``spec.height``."""
        self.order = "BGR" if getattr(spec, "color", "RGB") == "BGR" else "RGB"
        self.model_size = (int(spec.width), int(spec.height))

    def fresh(self) -> Picamera2Source:
        """A new instance for reconnecting; the old camera is closed first (it may be stuck in a capture)."""
        old, self._cam = self._cam, None
        if old is not None:
            threading.Thread(target=_quiet_close, args=(old,), daemon=True).start()
            time.sleep(0.2)
        new = Picamera2Source(self.stream, self.size if self.sized else None, self.fps, self.camera_factory)
        new.order, new.model_size = self.order, self.model_size
        return new

    def _camera(self) -> Any:
        if self.camera_factory is not None:
            return self.camera_factory()
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise picamera2_import_error(exc, "the picamera2 source") from None
        # Picamera2() on a board without a camera fails deep inside with an IndexError: ask libcamera first.
        try:
            cameras = Picamera2.global_camera_info()
        except Exception as exc:  # noqa: BLE001 - libcamera raises RuntimeError, OSError, ...
            raise BadInput(f"picamera2: libcamera cannot list cameras ({exc})") from None
        if not cameras:
            raise BadInput("picamera2: no camera found (libcamera lists none; check the ribbon cable and "
                           "`rpicam-hello --list-cameras`)")
        try:
            return Picamera2()
        except Exception as exc:  # noqa: BLE001
            raise BadInput(f"picamera2: cannot open the camera ({exc})") from None

    def open(self) -> SourceInfo:
        cam = self._camera()
        size = self.size
        if self.model_size is not None and not self.sized:
            size = covering_size(self.model_size, _sensor_size(cam))
        rgb_format = FORMAT_FOR_ORDER[self.order]
        streams: dict[str, Any] = {"main": {"size": DEFAULT_SIZES["main"], "format": rgb_format}}
        if self.stream == "lores":  # the Pi 4 ISP's lores is YUV420 only: converted at the model-near size
            streams["lores"] = {"size": size, "format": "YUV420"}
        else:
            streams["main"] = {"size": size, "format": rgb_format}
        controls = {"FrameRate": float(self.fps)} if self.fps else {}
        try:
            config = cam.create_video_configuration(**streams, controls=controls)
            cam.configure(config)
            cam.start()
        except Exception as exc:  # noqa: BLE001 - libcamera raises RuntimeError, OSError, ...
            _quiet_close(cam)
            raise BadInput(f"picamera2: cannot start the camera ({exc})") from None
        actual = cam.camera_configuration()
        sc = actual[self.stream]
        self._fmt, (self._width, height) = str(sc["format"]), tuple(sc["size"])
        self._cam = cam
        return SourceInfo(name=f"picamera2:{self.stream}", kind="picamera2", live=True, fps=_fps(actual, self.fps),
                          width=self._width, height=height, pixel_format=self._fmt)

    def read(self) -> Frame | None:
        cam = self._cam
        if cam is None:
            return None
        t0 = time.perf_counter()
        array = cam.capture_array(self.stream)
        image, order = frame_array(array, self._fmt, self._width, self.order)
        frame = Frame(image, self._count, f"picamera2:{self.stream}", time.time(), (time.perf_counter() - t0) * 1e3,
                      order)
        self._count += 1
        return frame

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            _quiet_close(cam)


def _sensor_size(cam: Any) -> tuple[int, int] | None:
    try:
        w, h = cam.sensor_resolution  # picamera2's property: the sensor's full pixel array
        return int(w), int(h)
    except Exception:  # noqa: BLE001 - a camera without it gets 4:3
        return None


def _fps(config: dict[str, Any], asked: float | None) -> float | None:
    limits = (config.get("controls") or {}).get("FrameDurationLimits")
    if limits and limits[0]:
        return round(1e6 / float(limits[0]), 2)
    return asked


def _quiet_close(cam: Any) -> None:
    for method in ("stop", "close"):
        try:
            getattr(cam, method)()
        except Exception as exc:  # noqa: BLE001 - closing a wedged camera must not raise
            log.debug("picamera2 %s failed: %s", method, exc)
