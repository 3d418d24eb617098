"""Stand-ins for picamera2's ``IMX500`` helper and ``Picamera2`` camera: the AI Camera's sensor cannot exist here.

They are fakes of the hardware boundary only, as thin as the adapter they feed: the output
tensor and the KPI timings travel in each request's metadata under picamera2's own keys
(``CnnOutputTensor``, ``CnnKpiInfo``) and are read back the way picamera2's ``IMX500``
reads them (``np.fromiter(..., float32)``; two little-endian uint32 microsecond counts).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def kpi_bytes(dnn_ms: float, dsp_ms: float) -> bytes:
    return struct.pack("II", int(dnn_ms * 1000), int(dsp_ms * 1000))


class FakeIMX500:
    """What ``picamera2.devices.imx500.IMX500`` offers the adapter."""

    camera_num = 0

    def __init__(self, network_file: str) -> None:
        self.network_file = network_file
        self.aspect_set = False

    def get_outputs(self, metadata: dict[str, Any], add_batch: bool = False) -> list[np.ndarray] | None:
        tensor = metadata.get("CnnOutputTensor")
        if not tensor:
            return None
        out = np.fromiter(tensor, dtype=np.float32) if not isinstance(tensor, np.ndarray) else tensor
        return [out[None] if add_batch else out]

    @staticmethod
    def get_kpi_info(metadata: dict[str, Any]) -> tuple[float, float] | None:
        kpi = metadata.get("CnnKpiInfo")
        if kpi is None:
            return None
        dnn, dsp = struct.unpack("II", bytes(kpi))
        return dnn / 1000, dsp / 1000

    def set_auto_aspect_ratio(self) -> None:
        self.aspect_set = True


@dataclass
class FakeRequest:
    metadata: dict[str, Any]
    image: np.ndarray
    released: bool = False

    def get_metadata(self) -> dict[str, Any]:
        return self.metadata

    def make_array(self, stream: str) -> np.ndarray:
        assert stream == "main"
        return self.image

    def release(self) -> None:
        self.released = True


@dataclass
class FakeCamera:
    """Hands out one request per queued metadata dict; the image is B,G,R bytes (picamera2's RGB888)."""

    metadata: Sequence[dict[str, Any]]
    size: tuple[int, int] = (64, 48)
    requests: list[FakeRequest] = field(default_factory=list)
    started: bool = False
    closed: bool = False

    def create_preview_configuration(self, main: dict[str, Any], controls: dict[str, Any],
                                     buffer_count: int) -> dict[str, Any]:
        return {"main": {**main, "size": self.size}, "controls": controls}

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def camera_configuration(self) -> dict[str, Any]:
        return self.config

    def capture_request(self) -> FakeRequest:
        i = len(self.requests)
        md = self.metadata[i % len(self.metadata)]
        bgr = np.zeros((self.size[1], self.size[0], 3), np.uint8)
        bgr[..., 0] = i % 256  # blue channel carries the frame number: checks the RGB888 -> RGB swap
        req = FakeRequest(md, bgr)
        self.requests.append(req)
        return req

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True
