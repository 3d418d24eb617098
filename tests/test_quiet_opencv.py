"""OpenCV's log level is set through whichever binding the installed OpenCV has.

Debian bookworm's python3-opencv (4.6, what a 32-bit Pi OS uses: PyPI has no armv7l wheels) has no
``cv2.utils.logging``; the device lab found every source failing there with an AttributeError.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgevision.sources.frame_sources import _quiet_opencv


@pytest.fixture(autouse=True)
def _no_user_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)


def test_current_opencv_uses_utils_logging() -> None:
    levels: list[int] = []
    cv2 = SimpleNamespace(utils=SimpleNamespace(logging=SimpleNamespace(LOG_LEVEL_ERROR=2, setLogLevel=levels.append)))
    _quiet_opencv(cv2)
    assert levels == [2]


def test_debian_opencv_without_utils_logging_falls_back_to_set_log_level() -> None:
    levels: list[int] = []
    _quiet_opencv(SimpleNamespace(utils=SimpleNamespace(), setLogLevel=levels.append))
    assert levels == [2]


def test_an_opencv_with_neither_binding_is_left_as_it_is() -> None:
    _quiet_opencv(SimpleNamespace())  # no AttributeError: the source still opens


def test_the_users_own_level_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_LOG_LEVEL", "DEBUG")
    levels: list[int] = []
    _quiet_opencv(SimpleNamespace(utils=SimpleNamespace(logging=SimpleNamespace(LOG_LEVEL_ERROR=2,
                                                                                setLogLevel=levels.append))))
    assert levels == []
