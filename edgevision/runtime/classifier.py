"""``Classifier``: one model, one interpreter, spec-exact preprocessing, ranked labels.

This is the single inference path of the project: the converter's validation gate, the
real-time pipeline, ``edgevision run`` and the benchmarks all go through it, so the
accuracy the desktop reports is the accuracy the device gets.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from edgevision.errors import BadInput
from edgevision.model.artifact import ModelArtifact, load_artifact
from edgevision.runtime.backend import Raw, Timed
from edgevision.runtime.classification import Ranking
from edgevision.runtime.images import read_image
from edgevision.runtime.interpreter import RuntimeInfo, make_interpreter
from edgevision.runtime.into_tensor import Staged, TensorWriter
from edgevision.runtime.postprocess import OutputQuant, Prediction, QuantizedRanker, dequantize, top_k
from edgevision.runtime.preprocess import Preprocessor
from edgevision.runtime.resolve import input_quant, resolve_spec

if TYPE_CHECKING:
    from edgevision.model.spec import PreprocessSpec
    from edgevision.runtime.frames import Frame

__all__ = ["Classifier", "ClassifierOptions", "Raw", "Timed"]


class ClassifierOptions(NamedTuple):
    """Knobs of the inference path; defaults suit an edgevision model on a CPU."""

    top_k: int = 3
    threshold: float = float("-inf")
    threads: int | None = None
    delegate: str | None = None
    normalization: str | None = None
    crop: str | None = None
    xnnpack: bool = True   # False: the builtin kernels without the default XNNPACK delegate (benchmarks compare)


class Classifier:
    """Classify RGB frames (or image paths) with any classification .tflite: the LiteRT backend (on the CPU,
    or on a Coral with ``delegate="edgetpu"``) of :class:`~edgevision.runtime.backend.Backend`."""

    infer_on = ""  # the network runs on this machine (its CPU, or a Coral it drives)

    def __init__(self, model: str | Path | ModelArtifact, labels: str | Path | None = None,
                 options: ClassifierOptions | None = None) -> None:
        self.options = opts = options or ClassifierOptions()
        self.artifact = model if isinstance(model, ModelArtifact) else load_artifact(model, labels)
        origin = str(self.artifact.path)
        self.interpreter, self.runtime = make_interpreter(self.artifact.data, opts.threads, opts.delegate, origin,
                                                          xnnpack=opts.xnnpack)
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1:
            raise BadInput(f"{origin}: expected a single image input, the model has {len(inputs)}")
        self._in, self._out = inputs[0], outputs[0]
        self.spec = resolve_spec(self.artifact, self._in, opts.normalization, opts.crop)
        self.preprocessor = Preprocessor(self.spec, input_quant(self._in))
        self._writer = TensorWriter(self.spec, self.preprocessor.quant)
        self._input_view = self.interpreter.tensor(int(self._in["index"]))  # call it for a fresh view each frame
        oscale, ozp = self._out.get("quantization", (0.0, 0))
        self._oquant = OutputQuant(float(oscale), int(ozp))
        odtype = np.dtype(self._out["dtype"])
        self._ranker = QuantizedRanker(odtype, self._oquant) if QuantizedRanker.handles(odtype, self._oquant) else None
        self.num_outputs = int(np.prod(self._out["shape"]))
        self.labels, self.label_offset = self._match_labels(origin)

    def _match_labels(self, origin: str) -> tuple[tuple[str, ...], int]:
        labels = self.artifact.labels
        n = self.num_outputs
        if labels is None:
            return tuple(str(i) for i in range(n)), 0
        if len(labels) == n:
            return labels, 0
        if len(labels) == n - 1:  # Coral/ImageNet models with an unlisted background class at 0
            return labels, 1
        raise BadInput(f"{self.artifact.labels_origin}: {len(labels)} labels but the model outputs {n} scores")

    @property
    def input_detail(self) -> dict:
        """The interpreter's details of the one image input (index, shape, dtype, quantization)."""
        return self._in

    @property
    def info(self) -> RuntimeInfo:
        return self.runtime

    @property
    def model_name(self) -> str:
        return self.artifact.name

    def wanted_input(self) -> "PreprocessSpec":
        return self.spec

    def infer_frame(self, frame: "Frame") -> Raw:
        """The backend's per-frame step: a tensor a reader thread staged, else preprocess into the input."""
        if frame.staged is not None:
            return self.invoke_staged(frame.staged)
        return self.invoke_frame(frame.image, frame.order)

    def postprocessor(self, smooth: int = 1) -> Ranking:
        return Ranking(self, smooth)

    def close(self) -> None:
        """Let the interpreter go (its buffers, and an Edge TPU delegate's device, are freed once nothing else
        holds it); the classifier cannot infer afterwards. Closing twice is harmless."""
        self._input_view = None  # type: ignore[assignment]
        self.interpreter = None

    @property
    def output_quant(self) -> OutputQuant:
        """The output tensor's quantization (scale 0 for float outputs)."""
        return self._oquant

    @property
    def input_index(self) -> int:
        return int(self._in["index"])

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        return self.preprocessor(rgb)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Run the interpreter on a ready input tensor; dequantized scores out."""
        self.interpreter.set_tensor(self._in["index"], tensor)
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self._out["index"]), self._oquant)

    def set_input(self, image: np.ndarray, order: str = "RGB") -> None:
        """Preprocess ``image`` (channels in ``order``) straight into the interpreter's input tensor."""
        view = self._input_view()[0]
        try:
            self._writer.write(image, view, order)
        finally:
            del view  # the interpreter refuses to invoke while a view of its buffers is alive

    def stager(self) -> Callable[[np.ndarray, str], Staged]:
        """A preprocessor for another thread (it has its own scratch buffers): each call makes a new input
        tensor from a frame, exactly as :meth:`set_input` would write it, for :meth:`scores_timed_staged`.
        A reader thread with time to spare takes the preprocessing off the thread that invokes the model."""
        writer = TensorWriter(self.spec, self.preprocessor.quant)
        shape, dtype = tuple(int(v) for v in self._in["shape"][1:]), self._in["dtype"]

        def stage(image: np.ndarray, order: str = "RGB") -> Staged:
            t0 = time.perf_counter()
            tensor = np.empty(shape, dtype)
            writer.write(image, tensor, order)
            return Staged(tensor, (time.perf_counter() - t0) * 1e3)

        return stage

    def scores_timed_staged(self, staged: Staged) -> Timed:
        """:meth:`scores_timed` for a tensor :meth:`stager` made: one copy into the input, then invoke."""
        return self.finish(self.invoke_staged(staged))

    def invoke_staged(self, staged: Staged) -> Raw:
        """Copy a staged tensor in and invoke: only what must happen between two invokes (``set_tensor`` is
        one call into the runtime, cheaper than a view and a copy when the caches are cold after an invoke)."""
        t0 = time.perf_counter()
        self.interpreter.set_tensor(self._in["index"], staged.tensor[None])
        t1 = time.perf_counter()
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._out["index"])
        return Raw(out, staged.ms + (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3)

    def invoke_frame(self, image: np.ndarray, order: str = "RGB") -> Raw:
        """Preprocess ``image`` into the input and invoke; the output as the interpreter wrote it."""
        t0 = time.perf_counter()
        self.set_input(image, order)
        t1 = time.perf_counter()
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._out["index"])
        return Raw(out, (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3)

    def finish(self, raw: Raw) -> Timed:
        """Dequantized scores of an invoke's output."""
        return Timed(dequantize(raw.output, self._oquant), raw.preprocess_ms, raw.infer_ms)

    def _invoke_scores(self) -> np.ndarray:
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self._out["index"]), self._oquant)

    def scores_timed(self, image: np.ndarray, order: str = "RGB") -> Timed:
        return self.finish(self.invoke_frame(image, order))

    def scores(self, image: np.ndarray | str | Path, order: str = "RGB") -> np.ndarray:
        self.set_input(self._frame(image), order)
        return self._invoke_scores()

    def rank(self, scores: np.ndarray, k: int | None = None, threshold: float | None = None) -> list[Prediction]:
        return top_k(scores, self.labels, self.options.top_k if k is None else k,
                     self.options.threshold if threshold is None else threshold, self.label_offset)

    def rank_output(self, output: np.ndarray, k: int | None = None,
                    threshold: float | None = None) -> list[Prediction]:
        """:meth:`rank` of an output as the interpreter wrote it (the same predictions as ranking its
        dequantized scores; an 8-bit output is ranked on its integers, with fewer calls)."""
        if self._ranker is None:
            return self.rank(dequantize(output, self._oquant), k, threshold)
        return self._ranker.rank(output, self.labels, self.options.top_k if k is None else k,
                                 self.options.threshold if threshold is None else threshold, self.label_offset)

    def classify(self, image: np.ndarray | str | Path, k: int | None = None, order: str = "RGB") -> list[Prediction]:
        """Top-k predictions for one frame (HxWx3 uint8, RGB unless ``order="BGR"``) or image file."""
        self.set_input(self._frame(image), order)
        self.interpreter.invoke()
        return self.rank_output(self.interpreter.get_tensor(self._out["index"]), k)

    @staticmethod
    def _frame(image: np.ndarray | str | Path) -> np.ndarray:
        return read_image(image) if isinstance(image, str | Path) else image

    def describe(self) -> dict[str, Any]:
        return {
            "model": str(self.artifact.path), "runtime": self.runtime.name, "runtime_version": self.runtime.version,
            "threads": self.runtime.threads, "delegate": self.runtime.delegate,
            "input": {"shape": [int(v) for v in self._in["shape"]], "dtype": self.preprocessor.quant.dtype,
                      "scale": self.preprocessor.quant.scale, "zero_point": self.preprocessor.quant.zero_point},
            "preprocess": {**self.spec.to_dict(), "mode": self.preprocessor.mode},
            "num_classes": self.num_outputs - self.label_offset,
        }
