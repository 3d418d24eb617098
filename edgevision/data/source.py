"""What training reads: a folder of images or a directory of TFRecord shards, behind one face.

The trainer asks for splits, classes and counts; whether the images come from files or from
shard records only matters to the loader. The run directory must stay usable by the
converter, which scores real image files on the device runtime: for shards, the held-out
splits and a calibration sample are extracted (original bytes) into the run directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgevision.data.discover import Dataset, Sample, discover, ensure_val, fold_in
from edgevision.data.loader import Items
from edgevision.data.settings import Split
from edgevision.data.shards import ShardSet, is_shard_dir, open_shards
from edgevision.errors import BadInput

CALIBRATION_PER_CLASS = 100   # training images per class kept as files for int8 calibration (shards)
CALIBRATION_MAX = 2000


@dataclass(frozen=True)
class TrainingData:
    root: str
    kind: str                          # "folder" or "shards"
    classes: tuple[str, ...]
    train: Items
    val: Items
    test: Items
    split_mode: str
    folder: Dataset | None = None      # the listing of a folder dataset
    shards: ShardSet | None = None
    added: int = 0                     # training images folded in from labelled folders (--add)

    def split(self, name: str) -> Items:
        if name not in ("train", "val", "test"):
            raise BadInput(f"unknown split {name!r}; use train, val or test")
        return getattr(self, name)

    def held_out(self) -> tuple[str, Items]:
        """The split to judge a model on: test when there is one, else val."""
        return ("test", self.test) if len(self.test) else ("val", self.val)

    def counts(self) -> dict[str, list[int]]:
        if self.shards is not None:
            return self.shards.counts()
        assert self.folder is not None
        return self.folder.counts()

    def class_counts(self) -> list[int]:
        return self.counts()["train"]


def open_data(path: str | Path, split: Split, add: tuple[str | Path, ...] = ()) -> TrainingData:
    """Open a folder (seeded split when it has no split folders) or a shard directory; ``add``: labelled
    folders whose images join the training split (a folder dataset only)."""
    if is_shard_dir(path):
        if add:
            raise BadInput(f"--add: {path} is a shard directory; add the labelled folders to the image folder it "
                           "was packed from and pack it again")
        s = open_shards(path)
        s.check_spec(split.spec)
        empty: tuple[Sample, ...] = ()
        train, val, test = (s.split(n) or empty for n in ("train", "val", "test"))
        if not len(train):
            raise BadInput(f"{path}: the shards hold no training images")
        if not len(val):
            raise BadInput(f"{path}: the shards hold no validation split; re-pack with --val-fraction > 0")
        return TrainingData(str(path), "shards", s.classes, train, val, test, "shards", shards=s)
    ds = ensure_val(discover(path, split.val_fraction, split.test_fraction, split.seed),
                    split.val_fraction, split.seed)
    if not ds.val:
        raise BadInput(f"{path}: too few images to hold out a validation split")
    ds, added = fold_in(ds, add) if add else (ds, 0)
    return TrainingData(ds.root, "folder", ds.classes, ds.train, ds.val, ds.test, ds.split_mode, folder=ds,
                        added=added)


def listing_for_run(data: TrainingData, run_dir: Path) -> Dataset:
    """The ``dataset.json`` listing: real files the converter and evaluator can open."""
    if data.folder is not None:
        return data.folder
    assert data.shards is not None
    from edgevision.data.shard_extract import extract

    per_class = max(1, min(CALIBRATION_PER_CLASS, CALIBRATION_MAX // max(1, len(data.classes))))
    target = run_dir / "images"
    splits = {}
    for name in ("train", "val", "test"):
        items = data.shards.split(name)
        limit = per_class if name == "train" else None
        splits[name] = tuple(extract(items, target / name, data.classes, limit)) if items else ()
    return Dataset(str(target), data.classes, splits["train"], splits["val"], splits["test"], "shards")
