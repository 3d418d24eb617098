"""``Classifier``: one model, one interpreter, spec-exact preprocessing, ranked labels.

This is the single inference path of the project: the converter's validation gate, the
real-time pipeline, ``edgevision run`` and the benchmarks all go through it, so the
accuracy the desktop reports is the accuracy the device gets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BadInput
from edgevision.model.artifact import ModelArtifact, load_artifact
from edgevision.runtime.images import read_image
from edgevision.runtime.interpreter import RuntimeInfo, make_interpreter
from edgevision.runtime.postprocess import OutputQuant, Prediction, dequantize, top_k
from edgevision.runtime.preprocess import Preprocessor
from edgevision.runtime.resolve import input_quant, resolve_spec


@dataclass(frozen=True)
class ClassifierOptions:
    """Knobs of the inference path; defaults suit an edgevision model on a CPU."""

    top_k: int = 3
    threshold: float = float("-inf")
    threads: int | None = None
    delegate: str | None = None
    normalization: str | None = None
    crop: str | None = None
    xnnpack: bool = True   # False: the builtin kernels without the default XNNPACK delegate (benchmarks compare)


@dataclass(frozen=True)
class Timed:
    """Scores of one frame plus how long each stage took, in milliseconds."""

    scores: np.ndarray
    preprocess_ms: float
    infer_ms: float


class Classifier:
    """Classify RGB frames (or image paths) with any classification .tflite."""

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
        oscale, ozp = self._out.get("quantization", (0.0, 0))
        self._oquant = OutputQuant(float(oscale), int(ozp))
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

    def scores_timed(self, rgb: np.ndarray) -> Timed:
        t0 = time.perf_counter()
        tensor = self.preprocessor(rgb)
        t1 = time.perf_counter()
        scores = self.infer(tensor)
        t2 = time.perf_counter()
        return Timed(scores, (t1 - t0) * 1e3, (t2 - t1) * 1e3)

    def scores(self, image: np.ndarray | str | Path) -> np.ndarray:
        return self.infer(self.preprocessor(self._frame(image)))

    def rank(self, scores: np.ndarray, k: int | None = None, threshold: float | None = None) -> list[Prediction]:
        return top_k(scores, self.labels, self.options.top_k if k is None else k,
                     self.options.threshold if threshold is None else threshold, self.label_offset)

    def classify(self, image: np.ndarray | str | Path, k: int | None = None) -> list[Prediction]:
        """Top-k predictions for one RGB frame (HxWx3 uint8) or image file."""
        return self.rank(self.scores(image), k)

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
