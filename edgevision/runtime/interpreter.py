"""Create a TFLite interpreter without TensorFlow: ai-edge-litert first, tflite-runtime second.

The interpreter is created once per pipeline; everything here is about making the
failure modes (no runtime installed, Edge TPU model without a TPU, model that does not
allocate) one readable line instead of a C++ stack dump.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Any

from edgevision.errors import BadInput, MissingDependency

EDGETPU_LIBRARY = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
EDGETPU_CUSTOM_OP = b"edgetpu-custom-op"


@dataclass(frozen=True)
class RuntimeInfo:
    """Which interpreter runs the model, for reports and benchmark fingerprints."""

    name: str
    version: str
    threads: int
    delegate: str = "cpu"


def default_threads(capture_thread: bool = False) -> int:
    """All cores for a bare benchmark; cores - 1 when a capture thread needs one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1) if capture_thread else max(1, cores)


def _interpreter_module() -> tuple[Any, str, str]:
    try:
        from importlib.metadata import version

        from ai_edge_litert import interpreter as mod

        return mod, "ai-edge-litert", version("ai-edge-litert")
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
    mod, name, version = _interpreter_module()
    n = threads or default_threads()
    kwargs: dict[str, Any] = {"model_content": model, "num_threads": n}
    if not xnnpack:
        kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    label = "cpu"
    if delegate and delegate != "cpu":
        kwargs["experimental_delegates"] = [_edgetpu_delegate(mod, delegate)]
        label = delegate
    elif EDGETPU_CUSTOM_OP in model:
        raise BadInput(f"{origin}: compiled for the Edge TPU; run it with --delegate edgetpu on a machine with a "
                       "Coral, or use the model from before edgetpu_compiler")
    try:
        interp = mod.Interpreter(**kwargs)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise BadInput(f"{origin}: the interpreter cannot load this model ({first})") from None
    return interp, RuntimeInfo(name=name, version=version, threads=n, delegate=label)


def _edgetpu_delegate(mod: Any, delegate: str) -> Any:
    # Thin adapter over the system libedgetpu; it cannot be exercised without a Coral.
    options: dict[str, str] = {}
    _, _, device = delegate.partition(":")
    if device:
        options["device"] = device
    library = EDGETPU_LIBRARY.get(platform.system(), "libedgetpu.so.1")
    try:
        return mod.load_delegate(library, options)
    except (ValueError, OSError) as exc:
        raise BadInput(f"Edge TPU delegate unavailable ({library}{' ' + device if device else ''}): "
                       f"{str(exc).splitlines()[0] if str(exc) else 'not found'}; is a Coral attached and "
                       "libedgetpu installed?") from None
