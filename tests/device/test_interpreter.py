"""Interpreter selection and the Edge TPU adapter's failure paths (no Coral can exist on a test machine)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from edgevision.device.profiles import list_profiles, load_profile
from edgevision.errors import BadInput
from edgevision.runtime import interpreter as interp_mod
from edgevision.runtime.interpreter import (
    DelegateChoice,
    default_threads,
    edgetpu_library,
    interpreter_module,
    is_edgetpu_model,
    load_edgetpu_delegate,
    parse_delegate,
)


@pytest.mark.parametrize(("text", "choice"), [
    (None, DelegateChoice("cpu")), ("cpu", DelegateChoice("cpu")), ("edgetpu", DelegateChoice("edgetpu")),
    ("edgetpu:usb", DelegateChoice("edgetpu", "usb")), ("edgetpu:usb:0", DelegateChoice("edgetpu", "usb:0")),
    ("edgetpu:pci:1", DelegateChoice("edgetpu", "pci:1")), ("edgetpu::0", DelegateChoice("edgetpu", ":0")),
])
def test_parse_delegate(text: str | None, choice: DelegateChoice) -> None:
    assert parse_delegate(text) == choice
    assert parse_delegate(choice.label) == choice


@pytest.mark.parametrize("text", ["gpu", "edgetpu:usb:x", "edgetpu:serial:0", "edgetpu:usb0"])
def test_bad_delegate_is_one_line(text: str) -> None:
    with pytest.raises(BadInput, match="--delegate"):
        parse_delegate(text)


def test_every_profile_names_a_valid_delegate() -> None:
    for name in list_profiles():
        parse_delegate(load_profile(name).delegate)


def test_library_name_per_os() -> None:
    assert edgetpu_library("Linux") == "libedgetpu.so.1"
    assert edgetpu_library("Darwin") == "libedgetpu.1.dylib"
    assert edgetpu_library("Windows") == "edgetpu.dll"


def test_threads_leave_a_core_for_capture() -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_threads(capture_thread=True) == max(1, cores - 1)
    assert default_threads() == cores


def test_missing_libedgetpu_says_what_to_install() -> None:
    mod, _, _ = interpreter_module()
    with pytest.raises(BadInput, match=r"Edge TPU runtime not found \(libedgetpu.so.1.*libedgetpu1-std"):
        load_edgetpu_delegate(mod, "usb:0", system="Linux")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # litert's Delegate.__del__
def test_library_present_but_no_tpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loadable library that is not a working TPU delegate: the real load_delegate fails, we say why."""
    mod, _, _ = interpreter_module()
    monkeypatch.setitem(interp_mod.EDGETPU_LIBRARY, "Linux", "libc.so.6")
    with pytest.raises(BadInput, match=r"no Edge TPU pci:0 found \(libc.so.6"):
        load_edgetpu_delegate(mod, "pci:0", system="Linux")


def test_device_option_reaches_libedgetpu(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class FakeMod:  # records what the adapter hands to load_delegate
        @staticmethod
        def load_delegate(library: str, options: dict[str, Any]) -> str:
            calls.append((library, options))
            return "delegate"

    monkeypatch.setitem(interp_mod.EDGETPU_LIBRARY, "Linux", "libc.so.6")
    assert load_edgetpu_delegate(FakeMod, "usb:1", system="Linux") == "delegate"
    assert load_edgetpu_delegate(FakeMod, "", system="Linux") == "delegate"
    assert calls == [("libc.so.6", {"device": "usb:1"}), ("libc.so.6", {})]


def test_edgetpu_model_detection_reads_the_operator_table(models) -> None:
    from edgevision.model.tflite_file import associated_files, embed
    from tests.fixtures.tflite_edit import with_custom_op

    plain = models.int8.read_bytes()
    assert not is_edgetpu_model(plain)
    assert is_edgetpu_model(with_custom_op(plain, "edgetpu-custom-op"))
    assert not is_edgetpu_model(with_custom_op(plain, "NotARealOp"))
    # the name in a label file (or any other bytes of the file) is not the compiler's operator
    mentions = embed(plain, {}, {**associated_files(plain), "notes.txt": b"run edgetpu-custom-op on a Coral"})
    assert b"edgetpu-custom-op" in mentions and not is_edgetpu_model(mentions)
    assert not is_edgetpu_model(b"TFL3 plain model") and not is_edgetpu_model(b"")
