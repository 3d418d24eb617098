"""The inference backend: what the real-time pipeline needs from whatever runs the network.

The pipeline hands a backend frames and gets back the task's result; it never asks which backend it
holds. A LiteRT interpreter on the CPU, the same with Coral's Edge TPU delegate, and the IMX500 sensor
(whose frames arrive with the network's outputs) are backends; so is anything else that turns a frame
into scores. Adding one is a module that implements :class:`Backend` plus one line in
:mod:`edgevision.runtime.backends`.

The work per frame is split where threads meet: :meth:`Backend.infer_frame` is all the inference
thread does (hand the frame over, run the network, keep the output as written); :meth:`Backend.finish`
and the post-processor run in the caller's thread while the next frame is inferred.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from edgevision.model.spec import PreprocessSpec
    from edgevision.runtime.frames import Frame
    from edgevision.runtime.interpreter import RuntimeInfo
    from edgevision.runtime.into_tensor import Staged


class Timed(NamedTuple):
    """Scores of one frame plus how long each stage took, in milliseconds."""

    scores: np.ndarray
    preprocess_ms: float
    infer_ms: float


class Raw(NamedTuple):
    """The network's output of one frame as the runtime wrote it (not yet dequantized), and the timings:
    what the thread that invokes hands on, so that everything else happens in another thread."""

    output: np.ndarray
    preprocess_ms: float
    infer_ms: float


@runtime_checkable
class Result(Protocol):
    """A task's result for one frame (the payload of a label event)."""

    kind: str

    def fields(self) -> dict[str, Any]:
        """The result's fields as they appear in the event's JSON object."""
        ...


@runtime_checkable
class PostProcessor(Protocol):
    """Turns a backend's output into the task's result (smoothing over frames where the task has it)."""

    def __call__(self, output: Raw | Timed) -> Result: ...

    def reset(self) -> None:
        """Forget what earlier frames said (the source reconnected: a new scene)."""
        ...


@runtime_checkable
class Backend(Protocol):
    """What runs the network for the pipeline. ``infer_on`` is "" when ``ms.infer`` is spent on this
    machine's CPU, otherwise where it is spent (a sensor)."""

    infer_on: str

    @property
    def info(self) -> RuntimeInfo:
        """Which runtime runs the network (name, version, threads, delegate)."""
        ...

    @property
    def model_name(self) -> str: ...

    def wanted_input(self) -> PreprocessSpec | None:
        """The input the network takes (size, channel order), for sources that can deliver it as it is
        (picamera2's ISP); None when frames arrive with the results already computed."""
        ...

    def stager(self) -> Callable[[np.ndarray, str], Staged] | None:
        """Preprocessing for a reader thread with time to spare (its own scratch buffers), or None."""
        ...

    def infer_frame(self, frame: Frame) -> Raw | Timed:
        """Only what must happen between two inferences: hand the frame over, infer, keep the output."""
        ...

    def finish(self, raw: Raw) -> Timed:
        """Scores from an output :meth:`infer_frame` kept as written."""
        ...

    def postprocessor(self, smooth: int = 1) -> PostProcessor:
        """A post-processor for one stream of frames (``smooth``: frames averaged, where the task can)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What ``doctor`` and reports show about this backend and its model."""
        ...

    def close(self) -> None: ...
