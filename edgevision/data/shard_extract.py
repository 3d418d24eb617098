"""[TF] Copy records out of shards back into image files (the converter scores files).

Encoded records are written byte for byte (the device decodes the very same bytes);
pre-resized pixel records are written as lossless PNG at the size they were stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from edgevision.data.discover import Sample
from edgevision.data.shards import PIXELS, ShardSplit


def records(split: ShardSplit) -> Iterator[tuple[bytes, str, int]]:
    """(payload, stored file name, label) of every record, in file order."""
    import tensorflow as tf

    key = "image/pixels" if split.content == PIXELS else "image/encoded"
    feats = {key: tf.io.FixedLenFeature([], tf.string),
             "image/filename": tf.io.FixedLenFeature([], tf.string, default_value=""),
             "image/class/label": tf.io.FixedLenFeature([], tf.int64)}
    for raw in tf.data.TFRecordDataset(list(split.files)).as_numpy_iterator():
        ex = tf.io.parse_single_example(raw, feats)
        yield ex[key].numpy(), ex["image/filename"].numpy().decode("utf-8"), int(ex["image/class/label"].numpy())


def extract(split: ShardSplit, out: Path, classes: Sequence[str], per_class: int | None = None) -> list[Sample]:
    """Write the split's images under ``out/<class>/``; at most ``per_class`` each when given."""
    import cv2

    taken = [0] * len(classes)
    used: set[str] = set()
    samples: list[Sample] = []
    for payload, name, label in records(split):
        if per_class is not None and taken[label] >= per_class:
            if all(t >= per_class for t in taken):
                break
            continue
        stem = Path(name).stem or f"record_{len(samples)}"
        suffix = ".png" if split.content == PIXELS else (Path(name).suffix or ".img")
        target = out / _safe(classes[label]) / f"{stem}{suffix}"
        n = 1
        while str(target) in used:
            target = out / _safe(classes[label]) / f"{stem}_{n}{suffix}"
            n += 1
        used.add(str(target))
        target.parent.mkdir(parents=True, exist_ok=True)
        if split.content == PIXELS:
            h, w, c = _shape(split)
            img = np.frombuffer(payload, np.uint8).reshape(h, w, c)
            cv2.imwrite(str(target), cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if c == 3 else img)
        else:
            target.write_bytes(payload)
        samples.append(Sample(str(target), label))
        taken[label] += 1
    return sorted(samples, key=lambda s: (s.label, s.path))


def _shape(split: ShardSplit) -> tuple[int, int, int]:
    assert split.spec is not None
    return split.spec.height, split.spec.width, split.spec.channels


def _safe(name: str) -> str:
    """A class name as one path component (no separators, no '..')."""
    cleaned = "".join(ch if ch not in "/\\\0" else "_" for ch in name).strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"
