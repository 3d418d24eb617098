"""Score one .tflite on a labelled folder through the device runtime (no TensorFlow)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgevision.convert.validate import score_models
from edgevision.data.discover import Sample, discover
from edgevision.errors import BadInput
from edgevision.metrics import worst_confusions
from edgevision.model.artifact import load_artifact


def evaluate_model(model: str | Path, data: str | Path, split: str = "test", labels: str | Path | None = None,
                   on_image: Callable[[], None] | None = None) -> dict[str, Any]:
    """Classes are matched by name between the model's labels and the data's folders."""
    art = load_artifact(model, labels)
    if not art.labels:
        raise BadInput(f"{model}: no labels in the model; pass --labels FILE")
    ds = discover(data)
    samples = ds.split(split)
    if not samples:
        raise BadInput(f"{data}: the {split} split is empty")
    index = {name: i for i, name in enumerate(art.labels)}
    missing = [c for c in ds.classes if c not in index]
    if missing:
        raise BadInput(f"{data}: class folder(s) {', '.join(missing[:5])} are not among the model's labels")
    remapped = [Sample(s.path, index[ds.classes[s.label]]) for s in samples]
    scored = score_models({"model": model}, remapped, art.labels, on_image=on_image)["model"]
    report = dict(scored.report)
    report["worst_confusions"] = worst_confusions(report["confusion"], art.labels)
    report.update({"model": str(model), "data": str(data), "split": split})
    return report
