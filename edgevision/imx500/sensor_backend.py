"""The IMX500 backend: scores come with the frame (computed on the sensor); labels, ranking as on the CPU.

``SensorClassifier`` stands where ``Classifier`` stands in the pipeline, but it never runs
a network: it reads the output vector the sensor attached to each ``SensorFrame``, makes
it scores the way picamera2's classification demo does (the vector arrives dequantized by
libcamera; raw integers are dequantized with the output scale from ``imx500.json``; a
softmax only when the card says the network outputs logits), and ranks it with the same
``top_k``, labels and threshold as the CPU path. The label offset follows the demo too: a
network with one more output than labels has a background class at 0, and a labels file
with one more line than outputs (ImageNet's 1001 for 1000 outputs) drops its first line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BadInput
from edgevision.model.labels import labels_sha256, read_labels
from edgevision.runtime.backend import Raw, Timed
from edgevision.runtime.classification import Ranking
from edgevision.runtime.frames import Frame
from edgevision.runtime.interpreter import RuntimeInfo
from edgevision.runtime.postprocess import Prediction, top_k

CARD_FILE = "imx500.json"
LABELS_FILE = "labels.txt"
MAX_CARD_BYTES = 4 << 20
INFER_ON = "imx500"


@dataclass(frozen=True)
class SensorModel:
    """What the CLI and sinks ask of ``classifier.artifact``."""

    name: str
    path: Path
    labels_origin: str


def read_card(path: Path) -> dict[str, Any]:
    """``imx500.json`` written by ``edgevision convert --target imx500`` (size-bounded, validated)."""
    if path.stat().st_size > MAX_CARD_BYTES:
        raise BadInput(f"{path}: larger than {MAX_CARD_BYTES} bytes; not an edgevision IMX500 card")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(card, dict) or (card.get("target") or {}).get("name") != "imx500":
        raise BadInput(f"{path}: not an edgevision IMX500 model card")
    return card


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x))
    return (e / np.sum(e)).astype(np.float32)


class SensorClassifier:
    """Scores from the sensor's output tensor -> ranked labels (same ``rank`` as ``Classifier``)."""

    infer_on = INFER_ON

    def __init__(self, network: str | Path, labels: str | Path | None = None, top: int = 3,
                 threshold: float = float("-inf"), softmax: bool | None = None) -> None:
        self.network = Path(network)
        folder = self.network.parent
        self.card = read_card(folder / CARD_FILE) if (folder / CARD_FILE).is_file() else None
        target = (self.card or {}).get("target") or {}
        label_path = Path(labels) if labels is not None else folder / LABELS_FILE
        if label_path.is_file():
            self.labels: tuple[str, ...] | None = read_labels(label_path)
            origin = str(label_path)
            if labels is None and self.card and self.card.get("labels_sha256") not in (None, labels_sha256(
                    list(self.labels))):
                raise BadInput(f"{label_path}: does not match the labels the network was converted with "
                               f"({CARD_FILE} labels_sha256)")
        elif labels is not None:
            raise BadInput(f"{label_path}: labels file not found")
        else:
            self.labels, origin = None, "none (class indices)"
        self.softmax = (target.get("output") == "logits") if softmax is None else softmax
        out_q = (target.get("output_tensor") or {})
        self.output_scale = float(out_q.get("scale") or 0.0)
        self.top, self.threshold = top, threshold
        self.label_offset = 0
        self._shown: tuple[str, ...] | None = None
        self._n: int | None = None
        self.artifact = SensorModel(str((self.card or {}).get("name") or self.network.stem), self.network, origin)
        self.info = RuntimeInfo("imx500", "on-sensor", 0, "imx500")

    def _match(self, n: int) -> None:
        labels = self.labels
        if labels is None:
            self._shown, self.label_offset = tuple(str(i) for i in range(n)), 0
        elif len(labels) == n:
            self._shown, self.label_offset = labels, 0
        elif len(labels) == n - 1:  # background class at output 0, not listed
            self._shown, self.label_offset = labels, 1
        elif len(labels) == n + 1:  # ImageNet-style file with a leading background line (picamera2's demo)
            self._shown, self.label_offset = labels[1:], 0
        else:
            raise BadInput(f"{self.artifact.labels_origin}: {len(labels)} labels but the sensor outputs {n} scores")
        self._n = n

    def scores_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        raw = np.ravel(outputs)
        if np.issubdtype(raw.dtype, np.integer):
            scores = raw.astype(np.float32) * np.float32(self.output_scale or 1.0)
        else:
            scores = raw.astype(np.float32, copy=False)
        if self.softmax:
            scores = _softmax(scores)
        if self._n != scores.size:
            self._match(scores.size)
        return scores

    @property
    def model_name(self) -> str:
        return self.artifact.name

    def wanted_input(self) -> None:
        """Nothing to ask of the source: the sensor frames and runs the network itself."""
        return None

    def stager(self) -> None:
        """No preprocessing on the host."""
        return None

    def infer_frame(self, frame: Frame) -> Timed:
        """The backend's per-frame step: the scores came with the frame."""
        return self.scores_for_frame(frame)

    def finish(self, raw: Raw) -> Timed:
        return Timed(self.scores_from_outputs(raw.output), raw.preprocess_ms, raw.infer_ms)

    def postprocessor(self, smooth: int = 1) -> Ranking:
        return Ranking(self, smooth)

    def rank_output(self, output: np.ndarray, k: int | None = None,
                    threshold: float | None = None) -> list[Prediction]:
        return self.rank(self.scores_from_outputs(output), k, threshold)

    def close(self) -> None:
        """Nothing held here (the sensor source owns the camera)."""

    def scores_for_frame(self, frame: Frame) -> Timed:
        """No preprocessing or inference here, both happened on the sensor."""
        outputs = getattr(frame, "outputs", None)
        if outputs is None:
            raise BadInput(f"{frame.source}: frame carries no IMX500 outputs (use --source imx500)")
        sensor_ms = getattr(frame, "sensor_ms", None)
        return Timed(self.scores_from_outputs(outputs), 0.0, float(sensor_ms) if sensor_ms is not None else 0.0)

    def scores_timed(self, rgb: np.ndarray) -> Timed:
        raise BadInput("the IMX500 network runs on the sensor: classify frames from --source imx500")

    def rank(self, scores: np.ndarray, k: int | None = None, threshold: float | None = None) -> list[Prediction]:
        if self._n != scores.size:
            self._match(scores.size)
        return top_k(scores, self._shown or (), self.top if k is None else k,
                     self.threshold if threshold is None else threshold, self.label_offset)

    def describe(self) -> dict[str, Any]:
        target = (self.card or {}).get("target") or {}
        return {"model": str(self.network), "runtime": "imx500", "runtime_version": "on-sensor", "threads": 0,
                "delegate": "imx500", "preprocess": (self.card or {}).get("preprocess"),
                "normalization": target.get("normalization"), "memory": target.get("memory"),
                "num_classes": len(self.labels) if self.labels else None}
