"""Find a labelled image dataset on disk: one folder per class, optional train/val/test splits.

Discovery only lists files (no decoding), so it is fast on a million images; unreadable
files are found and counted by the loader. Without split folders, a seeded stratified
split keeps runs reproducible.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edgevision.errors import BadInput
from edgevision.runtime.images import is_image_path

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


@dataclass(frozen=True)
class Sample:
    path: str
    label: int


@dataclass(frozen=True)
class Dataset:
    """A dataset's classes and its three splits (val or test may be empty)."""

    root: str
    classes: tuple[str, ...]
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...]
    split_mode: str  # "folders" or "seeded"

    def split(self, name: str) -> tuple[Sample, ...]:
        if name not in ("train", "val", "test"):
            raise BadInput(f"unknown split {name!r}; use train, val or test")
        return getattr(self, name)

    def held_out(self) -> tuple[str, tuple[Sample, ...]]:
        """The split to judge a model on: test when there is one, else val."""
        return ("test", self.test) if self.test else ("val", self.val)

    def counts(self) -> dict[str, list[int]]:
        out = {}
        for name in ("train", "val", "test"):
            per = [0] * len(self.classes)
            for s in self.split(name):
                per[s.label] += 1
            out[name] = per
        return out

    def to_json(self, run_dir: Path | None = None) -> str:
        """Paths inside ``run_dir`` are stored relative to it (the run can move), others absolute,
        so ``convert``/``evaluate`` find the images from any working directory."""
        base = run_dir.resolve() if run_dir is not None else None

        def where(path: str) -> str:
            full = Path(path).resolve()
            if base is not None and full.is_relative_to(base):
                return str(full.relative_to(base))
            return str(full)

        return json.dumps({"root": where(self.root), "classes": list(self.classes), "split_mode": self.split_mode,
                           **{n: [[where(s.path), s.label] for s in self.split(n)] for n in ("train", "val", "test")}})

    @classmethod
    def from_json(cls, text: str, run_dir: Path | None = None) -> Dataset:
        """Relative paths are the run's own (resolved against ``run_dir``); listings written by older
        versions were relative to where training ran, which is kept when that is what exists."""
        d = json.loads(text)
        first = next((p for n in ("train", "val", "test") for p, _ in d[n]), None)
        base = run_dir if (run_dir is not None and first is not None and not Path(first).is_absolute()
                           and ((run_dir / first).exists() or not Path(first).exists())) else None

        def where(path: str) -> str:
            return str(base / path) if base is not None and not Path(path).is_absolute() else path

        return cls(root=where(d["root"]), classes=tuple(d["classes"]), split_mode=d["split_mode"],
                   **{n: tuple(Sample(where(p), int(y)) for p, y in d[n]) for n in ("train", "val", "test")})


def fold_in(ds: Dataset, folders: Iterable[str | Path]) -> tuple[Dataset, int]:
    """``ds`` with the images of labelled ``folders`` (one sub-folder per class, such as field samples pulled
    from a device and corrected) added to its training split; and how many were added.

    Sub-folders whose name starts with ``_`` (``_unlabelled``, ``_junk``) are left out; any other name must
    be one of the dataset's classes. Images the dataset already has (a folder inside it) are not added twice.
    """
    index = {name: i for i, name in enumerate(ds.classes)}
    extra: list[Sample] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise BadInput(f"--add {folder}: not a folder (expected one sub-folder of images per class)")
        for cdir in _class_dirs(folder):
            if cdir.name.startswith("_"):
                continue
            if cdir.name not in index:
                known = ", ".join(ds.classes[:8]) + (" ..." if len(ds.classes) > 8 else "")
                raise BadInput(f"{cdir}: {cdir.name!r} is not one of the training classes ({known}); move its "
                               "images into the right class folder, or rename it _" + cdir.name + " to leave it out")
            extra += [Sample(str(f), index[cdir.name]) for f in _images(cdir)]
    have = {Path(s.path).resolve() for split in (ds.train, ds.val, ds.test) for s in split}
    new = [s for s in extra if Path(s.path).resolve() not in have]
    return Dataset(ds.root, ds.classes, _sorted((*ds.train, *new)), ds.val, ds.test, ds.split_mode), len(new)


def _class_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))


def discover(root: str | Path, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 42) -> Dataset:
    """Describe the dataset under ``root``; BadInput with the reason if it cannot be trained on."""
    base = Path(root)
    if not base.exists():
        raise BadInput(f"{base}: data folder not found")
    if not base.is_dir():
        raise BadInput(f"{base}: not a folder (expected one sub-folder per class)")
    subdirs = _class_dirs(base)
    splits = {SPLIT_NAMES[p.name.lower()]: p for p in subdirs if p.name.lower() in SPLIT_NAMES}
    if "train" in splits:
        return _from_split_folders(base, splits)
    per_class = {p.name: _images(p) for p in subdirs}
    classes = _check_classes(base, per_class)
    rng = random.Random(seed)
    train, val, test = [], [], []
    for label, name in enumerate(classes):
        files = list(per_class[name])
        rng.shuffle(files)
        n_test = round(len(files) * test_fraction)
        n_val = round(len(files) * val_fraction)
        test += [Sample(str(f), label) for f in files[:n_test]]
        val += [Sample(str(f), label) for f in files[n_test:n_test + n_val]]
        train += [Sample(str(f), label) for f in files[n_test + n_val:]]
    return Dataset(str(base), classes, _sorted(train), _sorted(val), _sorted(test), "seeded")


def _from_split_folders(base: Path, splits: dict[str, Path]) -> Dataset:
    per_class = {p.name: _images(p) for p in _class_dirs(splits["train"])}
    classes = _check_classes(splits["train"], per_class)
    index = {name: i for i, name in enumerate(classes)}
    out: dict[str, list[Sample]] = {"train": [], "val": [], "test": []}
    for split, folder in splits.items():
        for cdir in _class_dirs(folder):
            if cdir.name not in index:
                raise BadInput(f"{cdir}: class {cdir.name!r} is not among the training classes")
            out[split] += [Sample(str(f), index[cdir.name]) for f in _images(cdir)]
    return Dataset(str(base), classes, _sorted(out["train"]), _sorted(out["val"]), _sorted(out["test"]), "folders")


def _check_classes(folder: Path, per_class: dict[str, list[Path]]) -> tuple[str, ...]:
    classes = tuple(name for name, files in per_class.items() if files)
    if not classes:
        raise BadInput(f"{folder}: no images found (expected one sub-folder of images per class)")
    if len(classes) < 2:
        raise BadInput(f"{folder}: only one class ({classes[0]!r}) has images; a classifier needs at least 2")
    return classes


def _sorted(samples: Iterable[Sample]) -> tuple[Sample, ...]:
    return tuple(sorted(samples, key=lambda s: (s.label, s.path)))


def ensure_val(ds: Dataset, fraction: float, seed: int) -> Dataset:
    """Carve a stratified validation split out of train when the data has none."""
    if ds.val or fraction <= 0:
        return ds
    rng = random.Random(seed)
    train, val = [], []
    for label in range(len(ds.classes)):
        files = [s for s in ds.train if s.label == label]
        rng.shuffle(files)
        n_val = min(len(files) - 1, max(1, round(len(files) * fraction))) if len(files) > 1 else 0
        val += files[:n_val]
        train += files[n_val:]
    return Dataset(ds.root, ds.classes, _sorted(train), _sorted(val), ds.test, ds.split_mode)
