"""Score .tflite models on held-out images through the device's own runtime, and gate the drop.

This module imports no TensorFlow: the numbers come from the same ``Classifier`` (same
resize, same quantization arithmetic, same interpreter) that runs on the Pi, so the
accuracy the converter promises is the accuracy the device delivers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.data.discover import Sample
from edgevision.errors import BadInput
from edgevision.metrics import classification_report
from edgevision.model.artifact import ModelArtifact
from edgevision.model.labels import label_ids
from edgevision.model.spec import ModelCard
from edgevision.runtime.classifier import Classifier, ClassifierOptions
from edgevision.runtime.images import read_image
from edgevision.runtime.preprocess import resize_to_spec


@dataclass(frozen=True)
class Scored:
    """One model's predictions on the held-out set."""

    name: str
    path: str
    y_true: np.ndarray
    y_pred: np.ndarray
    report: dict[str, Any]
    scores: np.ndarray | None = None          # (images, classes) scores, for the ranking-aware measures
    views: dict[str, np.ndarray] | None = None  # the reference's scores under each benign change (stability.py)

    @property
    def accuracy(self) -> float:
        return float(self.report["accuracy"])


def score_models(models: Mapping[str, str | Path | ModelArtifact], samples: Sequence[Sample],
                 classes: Sequence[str], threads: int | None = None, on_image: Callable[[], None] | None = None,
                 reference: str | None = None, keep_scores: bool = False) -> dict[str, Scored]:
    """Classify every readable sample with every model; each image is decoded once for all models.

    With ``reference``, that model also scores every image under the benign changes of ``stability.py``
    (its noise floor), and every model keeps its full score vectors.
    """
    from edgevision.convert.stability import benign_views

    clfs = {name: Classifier(path, options=ClassifierOptions(threads=threads)) for name, path in models.items()}
    for name, clf in clfs.items():
        if clf.num_outputs - clf.label_offset != len(classes):
            raise BadInput(f"{models[name]}: model has {clf.num_outputs} outputs but the data has {len(classes)} "
                           "classes")
    specs = {clf.spec for clf in clfs.values()}
    y_true: list[int] = []
    preds: dict[str, list[int]] = {name: [] for name in clfs}
    full: dict[str, list[np.ndarray]] = {name: [] for name in clfs}
    views: dict[str, list[np.ndarray]] = {}
    for s in samples:
        try:
            rgb = read_image(s.path)
        except BadInput:
            if on_image:
                on_image()
            continue
        resized = {spec: resize_to_spec(rgb, spec) for spec in specs}
        y_true.append(s.label)
        for name, clf in clfs.items():
            scores = clf.infer(clf.preprocessor.from_resized(resized[clf.spec]))
            preds[name].append(int(np.argmax(scores)) - clf.label_offset)
            if keep_scores or reference is not None:
                full[name].append(_own_classes(scores, clf.label_offset))
            if name == reference:
                for kind, img in benign_views(rgb, resized[clf.spec], clf.spec).items():
                    views.setdefault(kind, []).append(
                        _own_classes(clf.infer(clf.preprocessor.from_resized(img)), clf.label_offset))
        if on_image:
            on_image()
    if not y_true:
        raise BadInput("no readable held-out images to validate on")
    truth = np.asarray(y_true)
    ids = label_ids(classes)  # a repeated name is kept apart by its index
    out = {}
    for name, p in preds.items():
        out[name] = Scored(name, str(models[name]), truth, np.asarray(p), classification_report(truth, p, ids),
                           np.stack(full[name]) if full[name] else None,
                           {k: np.stack(v) for k, v in views.items()} if name == reference else None)
    return out


def _own_classes(scores: np.ndarray, offset: int) -> np.ndarray:
    return np.asarray(scores, np.float32).reshape(-1)[offset:]


def gate(reference: Scored, candidate: Scored, budget_points: float, classes: Sequence[str]) -> dict[str, Any]:
    """Compare a quantized model with its float reference: drop in points, agreement, per class."""
    drop = (reference.accuracy - candidate.accuracy) * 100.0
    agreement = float(np.mean(reference.y_pred == candidate.y_pred))
    per_class: dict[str, dict[str, float]] = {}
    for i, name in enumerate(label_ids(classes)):  # a repeated name is kept apart by its index
        mask = reference.y_true == i
        if not mask.any():
            continue
        ref_acc = float(np.mean(reference.y_pred[mask] == i))
        cand_acc = float(np.mean(candidate.y_pred[mask] == i))
        per_class[name] = {reference.name: ref_acc, candidate.name: cand_acc,
                           "drop_points": round((ref_acc - cand_acc) * 100, 3)}
    losers = sorted((c for c, v in per_class.items() if v["drop_points"] > 0),
                    key=lambda c: -per_class[c]["drop_points"])
    return {"budget_points": budget_points, "passed": drop <= budget_points + 1e-9, "drop_points": round(drop, 3),
            "agreement": round(agreement, 4), "reference": reference.name, "candidate": candidate.name,
            "per_class": per_class, "worst_classes": losers[:3], "images": int(reference.y_true.size)}


def in_memory_model(data: bytes, card: ModelCard, labels: Sequence[str], name: str = "candidate") -> ModelArtifact:
    """A model that exists only as bytes (a repair candidate), ready for ``Classifier``."""
    return ModelArtifact(path=Path(f"<{name}>"), data=data, metadata=None, card=card, labels=tuple(labels),
                         labels_origin=name, files=())


def predict_resized(model: str | Path | ModelArtifact, images: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Top-1 class of each already resized uint8 image (NHWC), through the device's ``Classifier``."""
    clf = Classifier(model, options=ClassifierOptions(threads=threads))
    out = np.empty(len(images), dtype=np.int64)
    for i, img in enumerate(images):
        out[i] = int(np.argmax(clf.infer(clf.preprocessor.from_resized(img)))) - clf.label_offset
    return out
