"""The run directory: what ``train`` leaves for ``convert`` and ``evaluate`` (plain files, no TF)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.data.discover import Dataset
from edgevision.errors import BadInput
from edgevision.model.labels import read_labels
from edgevision.model.spec import PreprocessSpec

MODEL_FILE = "model.keras"
RUN_FILE = "run.json"
DATASET_FILE = "dataset.json"
HISTORY_FILE = "history.json"
LABELS_FILE = "labels.txt"
EXPORT_DIR = "export"


@dataclass(frozen=True)
class RunDir:
    root: Path
    name: str
    classes: tuple[str, ...]
    dataset: Dataset
    spec: PreprocessSpec
    recipe: dict[str, Any]
    run: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def export_dir(self) -> Path:
        return self.root / EXPORT_DIR


def load_run(path: str | Path, labels: str | Path | None = None) -> RunDir:
    """Open a run directory; BadInput naming the missing or broken file."""
    root = Path(path)
    if not root.is_dir():
        raise BadInput(f"{root}: run directory not found (create one with: edgevision train DATA --out {root})")
    for name in (RUN_FILE, DATASET_FILE, LABELS_FILE):
        if not (root / name).is_file():
            raise BadInput(f"{root / name}: missing; is {root} a finished training run?")
    try:
        run = json.loads((root / RUN_FILE).read_text(encoding="utf-8"))
        dataset = Dataset.from_json((root / DATASET_FILE).read_text(encoding="utf-8"), root)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{root}: run files are corrupt ({exc})") from None
    classes = read_labels(labels if labels is not None else root / LABELS_FILE)
    if len(classes) != len(dataset.classes):  # same count, other names: a deliberate rename
        origin = labels if labels is not None else root / LABELS_FILE
        raise BadInput(f"{origin}: {len(classes)} labels do not match the run's {len(dataset.classes)} classes "
                       f"({', '.join(dataset.classes[:5])}{', ...' if len(dataset.classes) > 5 else ''})")
    spec = PreprocessSpec.from_dict(run.get("preprocess", {}))
    recipe = run.get("recipe", {})
    return RunDir(root=root, name=str(recipe.get("name") or root.name), classes=tuple(classes), dataset=dataset,
                  spec=spec, recipe=recipe, run=run)


def load_keras(path: str | Path, compile: bool = False) -> Any:
    """[TF] Load a saved Keras model (a run's model, a checkpoint); one-line BadInput if it is missing or corrupt.

    The one Keras loader: the converter and the trainer both read models through it.
    """
    import keras

    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: Keras model not found (train first: edgevision train DATA --out RUN)")
    if p.is_dir():
        what = "a TensorFlow SavedModel directory" if (p / "saved_model.pb").exists() else "a directory"
        raise BadInput(f"{p}: is {what}, expected a Keras .keras file (re-save it with model.save('model.keras'))")
    if p.stat().st_size == 0:
        raise BadInput(f"{p}: Keras model file is empty")
    try:
        return keras.models.load_model(p, compile=compile)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
        raise BadInput(f"{p}: cannot load Keras model ({first})") from None
