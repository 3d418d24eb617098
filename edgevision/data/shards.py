"""TFRecord shards: a dataset packed into a few large files, for streaming at scale.

Millions of small files are slow to list, open and copy; shards are read sequentially and
interleaved. A record keeps the ORIGINAL encoded bytes of the image (``image/encoded``), so
training decodes them with the runtime's own decoder and the device-exact resize, exactly
as for a folder. ``--size`` stores pixels already resized instead (faster to train on);
the spec they were resized with is recorded and a recipe with another one is refused.

The manifest (``edgevision-shards.json``) is plain JSON: reading it needs no TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.data.discover import Dataset, Sample
from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.images import decode_image
from edgevision.runtime.preprocess import resize_to_spec

MANIFEST = "edgevision-shards.json"
SCHEMA = "edgevision.shards/1"
SPLITS = ("train", "val", "test")
ENCODED, PIXELS = "encoded", "pixels"


@dataclass(frozen=True)
class ShardSplit:
    """One split's shard files: what the loader streams."""

    name: str
    files: tuple[str, ...]
    count: int
    nbytes: int
    content: str                      # "encoded" (original file bytes) or "pixels" (resized uint8)
    spec: PreprocessSpec | None       # the resize the pixels went through (content "pixels")
    class_counts: tuple[int, ...]

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class ShardSet:
    root: Path
    classes: tuple[str, ...]
    content: str
    spec: PreprocessSpec | None
    source: str
    splits: dict[str, ShardSplit]

    def split(self, name: str) -> ShardSplit | None:
        s = self.splits.get(name)
        return s if s and s.count else None

    def counts(self) -> dict[str, list[int]]:
        return {n: list(self.splits[n].class_counts) if n in self.splits else [0] * len(self.classes)
                for n in SPLITS}

    def check_spec(self, spec: PreprocessSpec) -> None:
        """Pre-resized pixels are only valid for the spec they were resized with."""
        if self.content == PIXELS and self.spec != spec:
            have = self.spec.to_dict() if self.spec else {}
            want = spec.to_dict()
            diff = ", ".join(f"{k} {have.get(k)} vs {want[k]}" for k in want if have.get(k) != want[k])
            raise BadInput(f"{self.root}: shards hold pixels pre-resized with another preprocessing spec ({diff}); "
                           f"train with the same size/resize/crop or re-pack with --size {spec.width}")


def is_shard_dir(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def open_shards(path: str | Path) -> ShardSet:
    """Read a shard directory's manifest; BadInput naming what is missing."""
    root = Path(path)
    manifest = root / MANIFEST
    try:
        d = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{manifest}: not found; pack a folder first: edgevision data pack DIR --out {root}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{manifest}: corrupt manifest ({exc})") from None
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise BadInput(f"{manifest}: not an edgevision shard manifest")
    try:
        spec = PreprocessSpec.from_dict(d["spec"]) if d.get("spec") else None
        splits = {}
        for name, s in d["splits"].items():
            files = tuple(str(root / f) for f in s["files"])
            missing = [f for f in files if not Path(f).is_file()]
            if missing:
                raise BadInput(f"{missing[0]}: shard file missing ({len(missing)} of {len(files)} in {name})")
            splits[name] = ShardSplit(name, files, int(s["count"]), int(s["bytes"]), d["content"], spec,
                                      tuple(int(c) for c in s["class_counts"]))
        return ShardSet(root, tuple(d["classes"]), d["content"], spec, str(d.get("source", "")), splits)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{manifest}: malformed manifest (missing {exc})") from None


def _example(payload: bytes, label: int, name: str, shape: tuple[int, ...] | None) -> bytes:
    import tensorflow as tf

    feats = {
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "image/filename": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode("utf-8")])),
    }
    key = "image/pixels" if shape else "image/encoded"
    feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[payload]))
    if shape:
        feats["image/shape"] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(shape)))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def shard_counts(total: int, train_shards: int, train_count: int) -> int:
    """Val/test get shards in proportion to their size (at least one)."""
    if train_count <= 0:
        return max(1, train_shards)
    return max(1, min(total, round(train_shards * total / train_count)))


def pack(ds: Dataset, out: str | Path, shards: int, spec: PreprocessSpec | None = None, seed: int = 42,
         threads: int = 4, on_image: Callable[[], None] | None = None) -> dict[str, Any]:
    """Write ``ds`` as shards under ``out``; unreadable images are left out and listed in the manifest."""
    import random

    import tensorflow as tf

    if shards < 1:
        raise BadInput(f"--shards {shards}: must be at least 1")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.glob("*.tfrecord")):
        raise BadInput(f"{root}: already holds shards; choose an empty --out folder")
    base = Path(ds.root)
    manifest: dict[str, Any] = {"schema": SCHEMA, "classes": list(ds.classes), "source": str(base.resolve()),
                                "split_mode": ds.split_mode, "content": PIXELS if spec else ENCODED,
                                "spec": spec.to_dict() if spec else None, "splits": {}, "skipped": []}
    for split in SPLITS:
        samples = list(ds.split(split))
        if not samples:
            continue
        random.Random(seed).shuffle(samples)  # every shard gets a mix of classes
        n = shards if split == "train" else shard_counts(len(samples), shards, len(ds.train))
        n = min(n, len(samples))
        names = [f"{split}-{i:05d}-of-{n:05d}.tfrecord" for i in range(n)]
        writers = [tf.io.TFRecordWriter(str(root / f)) for f in names]
        counts, nbytes, written = [0] * len(ds.classes), 0, 0
        try:
            for sample, payload, error in _payloads(samples, spec, threads):
                if on_image:
                    on_image()
                if error:
                    manifest["skipped"].append([sample.path, error])
                    continue
                shape = (spec.height, spec.width, spec.channels) if spec else None
                record = _example(payload, sample.label, _relative(sample.path, base), shape)
                writers[written % n].write(record)
                written += 1
                nbytes += len(payload)
                counts[sample.label] += 1
        finally:
            for w in writers:
                w.close()
        manifest["splits"][split] = {"files": names, "count": written, "bytes": nbytes, "class_counts": counts}
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    tmp.replace(root / MANIFEST)  # the manifest appears last: a half-written pack is never mistaken for one
    return manifest


def _relative(path: str, base: Path) -> str:
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path


def _payloads(samples: Sequence[Sample], spec: PreprocessSpec | None,
              threads: int) -> Iterator[tuple[Sample, bytes, str]]:
    """(sample, bytes to store, error) in order; files are read and verified by a few threads."""
    from concurrent.futures import ThreadPoolExecutor

    def work(s: Sample) -> tuple[Sample, bytes, str]:
        try:
            raw = Path(s.path).read_bytes()
            rgb = decode_image(raw, s.path)  # verify now: shards hold only images the runtime can decode
            return s, resize_to_spec(rgb, spec).tobytes() if spec else raw, ""
        except BadInput as exc:
            return s, b"", str(exc)
        except OSError as exc:
            return s, b"", f"{s.path}: cannot read ({exc.strerror or exc.__class__.__name__})"

    window = max(64, threads * 16)  # bounded read-ahead: memory stays flat however many files there are
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for start in range(0, len(samples), window):
            yield from pool.map(work, samples[start:start + window])
