"""picamera2 on a board with no camera attached: one clear line, not an IndexError from deep inside.

The real library is exercised on the device lab's trixie userland (tests/devicelab); here a stand-in
module plays libcamera's answer (an empty camera list), since no camera stack exists on this machine.
"""

from __future__ import annotations

import sys
import types

import pytest

from edgevision.errors import BadInput
from edgevision.sources.picamera import Picamera2Source


class _NoCameras:
    @staticmethod
    def global_camera_info() -> list:
        return []

    def __init__(self) -> None:
        raise IndexError("list index out of range")  # what Picamera2() does when libcamera lists none


def test_no_camera_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=_NoCameras))
    with pytest.raises(BadInput, match="no camera found"):
        Picamera2Source().open()
