"""Evaluation reports: accuracy, per-class precision/recall/F1, averages, confusion, worst pairs.

``evaluate_keras`` / ``evaluate_run`` score a Keras model through the same streaming loader
that trained it [TF, inside the functions]; ``save_evaluation`` writes any report (Keras or
.tflite) as JSON plus a confusion-matrix PNG, so the two kinds of evaluation look the same
to a person and to a script. Importing this module needs no TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BadInput
from edgevision.metrics import classification_report, top_k_accuracy, worst_confusions
from edgevision.model.spec import PreprocessSpec

MAX_PLOTTED_CLASSES = 60   # a bigger matrix is unreadable as a picture; the JSON still has it


def predict(model: Any, items: Any, spec: PreprocessSpec, batch_size: int, skips: Any = None) -> tuple[np.ndarray,
                                                                                                         np.ndarray]:
    """(true labels, class scores) for every readable image of a split, streamed in batches."""
    from edgevision.data.loader import Stream

    stream = Stream(items, spec, batch_size, training=False, cache=None, skips=skips)
    y_true, scores = [], []
    for x, y in stream.epoch(0):
        scores.append(np.asarray(model(x, training=False)))
        y_true.append(y.numpy())
    if not y_true:
        raise BadInput("no readable images to evaluate on")
    return np.concatenate(y_true), np.concatenate(scores)


def report_from_scores(y_true: np.ndarray, scores: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    report = classification_report(y_true, np.argmax(scores, axis=1), classes)
    if len(classes) > 5:
        report["top5_accuracy"] = top_k_accuracy(y_true, scores, 5)
    report["worst_confusions"] = worst_confusions(report["confusion"], classes)
    return report


def evaluate_keras(model: Any, items: Any, classes: Sequence[str], spec: PreprocessSpec,
                   batch_size: int = 64) -> dict[str, Any]:
    """Metrics of a Keras model on one split (the float reference before conversion); {} if empty."""
    if not len(items):
        return {}
    y_true, scores = predict(model, items, spec, batch_size)
    return report_from_scores(y_true, scores, classes)


def save_evaluation(report: dict[str, Any], classes: Sequence[str], out_dir: Path, stem: str,
                    title: str) -> dict[str, str]:
    """``<stem>.json`` and ``<stem>_confusion.png`` under ``out_dir``; returns their paths.

    Imports no TensorFlow (a device scoring a .tflite saves reports too); without matplotlib
    (a device install) only the JSON is written.
    """
    import importlib.util

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": str(out_dir / f"{stem}.json")}
    plottable = importlib.util.find_spec("matplotlib") is not None and len(classes) <= MAX_PLOTTED_CLASSES
    if "confusion" in report and plottable:
        from edgevision.report.plots import confusion

        png = out_dir / f"{stem}_confusion.png"
        confusion(report["confusion"], classes, png, title)
        paths["confusion_png"] = str(png)
    body = {**report, "files": paths}
    Path(paths["json"]).write_text(json.dumps(body, indent=2), encoding="utf-8")
    return paths


def _external(data: str | Path, split: str | None, run: Any) -> tuple[str, Any]:
    """A split of another dataset, labels renumbered to the run's classes by name.

    A folder without split folders is evaluated whole (it is not the run's data, so nothing
    of it was trained on).
    """
    from edgevision.data.discover import Sample, discover
    from edgevision.data.shards import is_shard_dir, open_shards

    if is_shard_dir(data):
        shards = open_shards(data)
        shards.check_spec(run.spec)
        if shards.classes != run.classes:
            raise BadInput(f"{data}: shard classes {', '.join(shards.classes[:5])} differ from the model's labels")
        name = split or ("test" if shards.split("test") else "val")
        items = shards.split(name)
        return name, items if items is not None else ()
    ds = discover(data, 0.0, 0.0)
    if ds.split_mode == "folders":
        name, samples = (split, ds.split(split)) if split else ds.held_out()
    elif split not in (None, "all"):
        raise BadInput(f"{data}: has no split folders; evaluate all of it (omit --split)")
    else:
        name, samples = "all", ds.train
    index = {c: i for i, c in enumerate(run.classes)}
    missing = [c for c in ds.classes if c not in index]
    if missing:
        raise BadInput(f"{data}: class folder(s) {', '.join(missing[:5])} are not among the model's labels")
    return name, tuple(Sample(s.path, index[ds.classes[s.label]]) for s in samples)


def evaluate_run(run_dir: str | Path, data: str | Path | None = None, split: str | None = None,
                 batch_size: int = 64) -> dict[str, Any]:
    """[TF] Score a run's Keras model on one of its own splits, or on another dataset (classes matched by name)."""
    from edgevision.train.rundir import load_keras, load_run

    run = load_run(run_dir)
    if data is None:
        name, items = (split, run.dataset.split(split)) if split else run.dataset.held_out()
        source = str(run.root / "dataset.json")
    else:
        name, items = _external(data, split, run)
        source = str(data)
    if not len(items):
        raise BadInput(f"{source}: the {name} split is empty")
    model = load_keras(run.model_path)
    report = evaluate_keras(model, items, run.classes, run.spec, batch_size)
    report.update({"model": str(run.model_path), "data": source, "split": name, "kind": "keras"})
    return report
