"""Create a TFLite interpreter without TensorFlow: ai-edge-litert first, tflite-runtime second.

The interpreter is created once per pipeline; everything here is about making the
failure modes (no runtime installed, Edge TPU model without a TPU, model that does not
allocate) one readable line instead of a C++ stack dump.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import os
import platform
import re
from typing import Any, NamedTuple

from edgevision.errors import BadInput, MissingDependency
from edgevision.model.opcodes import is_edgetpu_model

# libedgetpu's file name per OS, as Coral's runtime installs it (pycoral uses the same table).
EDGETPU_LIBRARY = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
# "usb", "usb:0", "pci", "pci:1", ":0" (the N-th TPU of any kind), as libedgetpu's "device" option takes them.
_TPU_DEVICE = re.compile(r"^(usb|pci)?(:\d+)?$")


class RuntimeInfo(NamedTuple):
    """Which interpreter runs the model, for reports and benchmark fingerprints."""

    name: str
    version: str
    threads: int
    delegate: str = "cpu"


class DelegateChoice(NamedTuple):
    """A parsed ``--delegate`` value: ``cpu`` or ``edgetpu`` with an optional device (``usb:0``)."""

    kind: str
    device: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.device}" if self.device else self.kind


def parse_delegate(text: str | None) -> DelegateChoice:
    """``None``/``cpu`` -> CPU; ``edgetpu``, ``edgetpu:usb:0``, ``edgetpu:pci``, ``edgetpu::1`` -> Edge TPU."""
    if not text or text == "cpu":
        return DelegateChoice("cpu")
    kind, _, device = text.partition(":")
    if kind != "edgetpu":
        raise BadInput(f"--delegate {text!r}: use cpu or edgetpu[:usb|:usb:N|:pci|:pci:N|::N]")
    if device and not _TPU_DEVICE.match(device):
        raise BadInput(f"--delegate {text!r}: Edge TPU device must look like usb, usb:0, pci, pci:0 or :0")
    return DelegateChoice("edgetpu", device)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one, as under taskset)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_threads(capture_thread: bool = False) -> int:
    """All cores for a bare benchmark; cores - 1 when a thread reading the source (capture or read-ahead)
    needs one."""
    cores = usable_cores()
    return max(1, cores - 1) if capture_thread else max(1, cores)


def interpreter_module() -> tuple[Any, str, str]:
    """The interpreter module and its distribution name and version (ai-edge-litert, else tflite-runtime)."""
    try:
        import ai_edge_litert
        from ai_edge_litert import interpreter as mod

        # the package's own version string: importlib.metadata costs ~0.1 s of a cold start on a small board
        found = getattr(ai_edge_litert, "__version__", None)
        if not isinstance(found, str):
            from importlib.metadata import version

            found = version("ai-edge-litert")
        return mod, "ai-edge-litert", found
    except ImportError:
        pass
    try:
        import tflite_runtime  # type: ignore[import-not-found]
        from tflite_runtime import interpreter as mod  # type: ignore[import-not-found]

        return mod, "tflite-runtime", getattr(tflite_runtime, "__version__", "?")
    except ImportError:
        raise MissingDependency("ai-edge-litert", "device", "running a model") from None


def make_interpreter(model: bytes, threads: int | None = None, delegate: str | None = None,
                     origin: str = "model", xnnpack: bool = True) -> tuple[Any, RuntimeInfo]:
    """Build and allocate an interpreter for ``model`` bytes.

    ``delegate``: None/"cpu" for the CPU (XNNPACK), or "edgetpu[:usb:0|:pci:0]" for a Coral.
    ``xnnpack=False`` uses the builtin kernels without the default XNNPACK delegate (benchmarks compare both).
    """
    choice = parse_delegate(delegate)
    mod, name, version = interpreter_module()
    n = threads or default_threads()
    kwargs: dict[str, Any] = {"model_content": model, "num_threads": n}
    if not xnnpack:
        kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if choice.kind == "edgetpu":
        kwargs["experimental_delegates"] = [load_edgetpu_delegate(mod, choice.device)]
    elif is_edgetpu_model(model):
        raise BadInput(f"{origin}: compiled for the Edge TPU; run it with --delegate edgetpu on a machine with a "
                       "Coral, or use the model from before edgetpu_compiler")
    try:
        interp = mod.Interpreter(**kwargs)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise BadInput(f"{origin}: the interpreter cannot load this model ({first})") from None
    return interp, RuntimeInfo(name=name, version=version, threads=n, delegate=choice.label)


def edgetpu_library(system: str | None = None) -> str:
    return EDGETPU_LIBRARY.get(system or platform.system(), "libedgetpu.so.1")


def load_edgetpu_delegate(mod: Any, device: str = "", system: str | None = None) -> Any:
    """Load libedgetpu as a TFLite delegate for ``device`` ("" = the first TPU found).

    Thin adapter over the system library: no Coral exists on the machines that test this
    project, so only the failure paths (library missing, no TPU on that bus) are exercised.
    The library is opened with ctypes first because a failed ``load_delegate`` leaves a
    half-built object whose destructor prints a traceback.
    """
    import ctypes

    library = edgetpu_library(system)
    where = f" {device}" if device else ""
    try:
        ctypes.CDLL(library)
    except OSError:
        raise BadInput(f"Edge TPU runtime not found ({library} cannot be loaded); install libedgetpu1-std "
                       "from Coral's package repository, or run on the CPU with --delegate cpu") from None
    try:
        return mod.load_delegate(library, {"device": device} if device else {})
    except (ValueError, OSError, RuntimeError, AttributeError) as exc:  # AttributeError: not a delegate plugin
        first = str(exc).splitlines()[0] if str(exc) else "no device"
        raise BadInput(f"no Edge TPU{where} found ({library}: {first}); is the Coral plugged in "
                       f"(lsusb shows 1a6e or 18d1) and does this user have access to it?") from None
