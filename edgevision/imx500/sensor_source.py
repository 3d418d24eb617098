"""The Raspberry Pi AI Camera (Sony IMX500) as a frame source whose frames already carry the scores.

The network runs on the sensor: picamera2's ``IMX500`` helper uploads the ``.rpk`` and
each completed request's metadata carries the output tensor (``CnnOutputTensor``, read
with ``IMX500.get_outputs``) and the sensor's own timings (``CnnKpiInfo``, read with
``IMX500.get_kpi_info``: DNN and DSP milliseconds). This module is a thin adapter over
that helper and picamera2's camera object; both exist only on a Pi, so tests inject
stand-ins through ``imx500_factory`` and ``camera_factory`` (fakes of the hardware, not
of edgevision). The frame it hands out is the ISP's ``main`` image (for the live view and
sinks) plus the raw output vector; ``SensorClassifier`` (imx500_backend) turns that into
scores, the pipeline into the same label events as the CPU path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BadInput
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.sources.picamera import _quiet_close, to_rgb
from edgevision.sources.picamera_import import picamera2_import_error

log = logging.getLogger("edgevision.source")

DEFAULT_SIZE = (640, 480)
WAIT_OUTPUTS_S = 10.0  # a freshly loaded network takes a few frames before outputs appear
MAX_OUTPUTS = 1 << 20  # a classifier's score vector; anything larger is not ours


@dataclass(frozen=True, eq=False)
class SensorFrame(Frame):
    """A frame plus what the sensor computed on it: the raw first output tensor and its timings."""

    outputs: np.ndarray | None = None
    sensor_ms: float | None = None  # DNN runtime on the sensor, as the sensor reports it
    dsp_ms: float | None = None


class Imx500Source:
    """``--source imx500``: frames from the AI Camera with the network's outputs attached."""

    live = True

    def __init__(self, network: str | Path, size: tuple[int, int] | None = None, fps: float | None = None,
                 center_crop: bool = False, imx500_factory: Callable[[str], Any] | None = None,
                 camera_factory: Callable[[Any], Any] | None = None, wait_outputs_s: float = WAIT_OUTPUTS_S) -> None:
        self.network = Path(network)
        self.size, self.fps, self.center_crop = size or DEFAULT_SIZE, fps, center_crop
        self.imx500_factory, self.camera_factory = imx500_factory, camera_factory
        self.wait_outputs_s = wait_outputs_s
        self.imx: Any = None
        self._cam: Any = None
        self._fmt, self._width = "", self.size[0]
        self._count = 0
        self.frames_without_outputs = 0

    def fresh(self) -> Imx500Source:
        """A new instance for reconnecting (the old camera is closed off the capture thread)."""
        old, self._cam = self._cam, None
        if old is not None:
            threading.Thread(target=_quiet_close, args=(old,), daemon=True).start()
        return Imx500Source(self.network, self.size, self.fps, self.center_crop, self.imx500_factory,
                            self.camera_factory, self.wait_outputs_s)

    def _factories(self) -> tuple[Callable[[str], Any], Callable[[Any], Any]]:
        if self.imx500_factory is not None and self.camera_factory is not None:
            return self.imx500_factory, self.camera_factory
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
            from picamera2.devices.imx500 import IMX500  # type: ignore[import-not-found]
        except ImportError as exc:
            raise picamera2_import_error(exc, "the imx500 source (Raspberry Pi AI Camera)") from None
        return (self.imx500_factory or IMX500,
                self.camera_factory or (lambda imx: Picamera2(getattr(imx, "camera_num", 0))))

    def open(self) -> SourceInfo:
        if not self.network.is_file():
            raise BadInput(f"{self.network}: IMX500 network (.rpk) not found; package packerOut.zip on the Pi with "
                           "imx500-package, or deploy with --profile rpi-ai-camera")
        make_imx, make_cam = self._factories()
        try:  # must come before the camera is configured: it uploads the network firmware
            imx = make_imx(str(self.network.resolve()))
        except (RuntimeError, OSError) as exc:
            raise BadInput(f"imx500: cannot load {self.network} onto the sensor ({exc})") from None
        cam = make_cam(imx)
        controls = {"FrameRate": float(self.fps)} if self.fps else {}
        try:
            config = cam.create_preview_configuration(main={"size": self.size, "format": "RGB888"},
                                                      controls=controls, buffer_count=12)
            cam.configure(config)
            cam.start()
            if self.center_crop and hasattr(imx, "set_auto_aspect_ratio"):
                imx.set_auto_aspect_ratio()  # the sensor crops to the network's aspect, as the spec's center crop
        except Exception as exc:  # noqa: BLE001 - libcamera raises RuntimeError, OSError, ...
            _quiet_close(cam)
            raise BadInput(f"imx500: cannot start the camera ({exc})") from None
        main = cam.camera_configuration()["main"]
        self._fmt, (self._width, height) = str(main["format"]), tuple(main["size"])
        self.imx, self._cam = imx, cam
        return SourceInfo(name=f"imx500:{self.network.name}", kind="imx500", live=True, fps=self.fps,
                          width=self._width, height=height, pixel_format=f"{self._fmt} (network on the sensor)")

    def read(self) -> SensorFrame | None:
        """The next frame that carries network outputs; None if none arrive within ``wait_outputs_s``."""
        cam, imx = self._cam, self.imx
        if cam is None:
            return None
        deadline = time.monotonic() + self.wait_outputs_s
        while True:
            t0 = time.perf_counter()
            request = cam.capture_request()
            try:
                metadata = request.get_metadata()
                outputs = imx.get_outputs(metadata, add_batch=False)
                array = request.make_array("main") if outputs is not None else None
            finally:
                request.release()
            if outputs is not None and len(outputs):
                break
            self.frames_without_outputs += 1
            if time.monotonic() > deadline:
                log.warning("imx500: no network outputs for %.0f s", self.wait_outputs_s)
                return None
        first = np.asarray(outputs[0])
        if first.size > MAX_OUTPUTS:
            raise BadInput(f"imx500: output tensor has {first.size} values; not a classifier's score vector")
        kpi = imx.get_kpi_info(metadata) if hasattr(imx, "get_kpi_info") else None
        rgb = to_rgb(array, self._fmt, self._width)
        frame = SensorFrame(rgb, self._count, f"imx500:{self.network.name}", time.time(),
                            (time.perf_counter() - t0) * 1e3, outputs=np.ravel(first),
                            sensor_ms=float(kpi[0]) if kpi else None, dsp_ms=float(kpi[1]) if kpi else None)
        self._count += 1
        return frame

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            _quiet_close(cam)
