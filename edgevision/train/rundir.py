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
