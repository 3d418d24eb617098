"""Interpreter selection and the Edge TPU adapter's failure paths (no Coral can exist on a test machine)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from edgevision.errors import BadInput
from edgevision.profiles import list_profiles, load_profile
from edgevision.runtime import interpreter as interp_mod
from edgevision.runtime.interpreter import (
    DelegateChoice,
    interpreter_module,
    is_edgetpu_model,
    load_edgetpu_delegate,
    parse_delegate,
)
from tests.conftest import REPO


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


@pytest.mark.parametrize(("system", "library"), [("Linux", "libedgetpu.so.1"), ("Darwin", "libedgetpu.1.dylib"),
                                                  ("Windows", "edgetpu.dll")])
def test_the_library_asked_for_is_the_one_corals_runtime_installs(system: str, library: str) -> None:
    """File names as Coral's runtime packages install them (coral.ai/docs/accelerator/get-started); what a user
    sees is the error naming the file that was looked for (none of them exists on this machine)."""
    mod, _, _ = interpreter_module()
    with pytest.raises(BadInput, match=re.escape(f"Edge TPU runtime not found ({library}")):
        load_edgetpu_delegate(mod, "usb:0", system=system)


AFFINITY_PROBE = """
import json, os, sys
os.sched_setaffinity(0, {int(c) for c in sys.argv[1:]})
from edgevision.runtime.interpreter import default_threads
print(json.dumps([default_threads(), default_threads(capture_thread=True), os.cpu_count()]))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable cores")
def test_threads_follow_the_cores_this_process_may_use() -> None:
    """A container or `taskset` limits the cores a process gets while os.cpu_count() still says the machine's:
    the interpreter gets the usable ones, less one for the capture thread when there is one (never zero)."""
    import json
    import subprocess
    import sys

    cores = sorted(os.sched_getaffinity(0))
    one = json.loads(subprocess.run([sys.executable, "-c", AFFINITY_PROBE, str(cores[0])], capture_output=True,
                                    text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)}).stdout)
    two = json.loads(subprocess.run([sys.executable, "-c", AFFINITY_PROBE, *map(str, cores[:2])],
                                    capture_output=True, text=True, check=True,
                                    env={**os.environ, "PYTHONPATH": str(REPO)}).stdout)
    assert one[:2] == [1, 1] and two[:2] == [2, 1]
    assert one[2] == two[2] >= 2  # the machine's count did not change: only the process's share did


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
