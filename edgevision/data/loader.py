"""[TF] Stream a split into tf.data: parallel decode, spec-exact resize, cache, shuffle, augment, prefetch.

Decoding and resizing call the runtime's own functions (OpenCV, EXIF-aware) for folders
and for TFRecord shards alike, so training sees pixels prepared exactly as the device
will prepare them. Unreadable files are skipped and counted, never a crash.

Nothing is loaded whole into memory unless it fits the cache budget: without a cache the
pipeline holds only file names, a bounded shuffle buffer and a few batches in flight.
Every random choice is a pure function of (seed, epoch), so a resumed run replays the
exact epoch an uninterrupted run would have.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.data.augment import augment_batch, epoch_seed
from edgevision.data.discover import Sample
from edgevision.data.settings import Augment
from edgevision.data.shards import PIXELS, ShardSplit
from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.images import decode_image, read_image
from edgevision.runtime.preprocess import resize_to_spec

SHUFFLE_BUFFER_BYTES = 256 * 2**20   # decoded pixels held for shuffling when they are not all cached in memory
RECORD_BUFFER_BYTES = 64 * 2**20     # encoded shard records held for shuffling before decode
Items = Sequence[Sample] | ShardSplit


@dataclass
class SkipLog:
    """Unreadable files met while streaming (each counted once, however many epochs)."""

    paths: set[str] = field(default_factory=set)
    reasons: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, reason: str) -> None:
        with self.lock:
            self.paths.add(path)
            self.reasons.setdefault(path, reason)

    @property
    def count(self) -> int:
        return len(self.paths)


def load_pixels(path: str, spec: PreprocessSpec, skips: SkipLog | None = None) -> tuple[np.ndarray, bool]:
    """Decode and resize one file; (zeros, False) if it cannot be read."""
    try:
        return resize_to_spec(read_image(path), spec), True
    except BadInput as exc:
        if skips is not None:
            skips.add(path, str(exc))
        return np.zeros((spec.height, spec.width, spec.channels), np.uint8), False


def _decode_record(payload: bytes, name: str, spec: PreprocessSpec, pixels: bool,
                   skips: SkipLog | None) -> tuple[np.ndarray, bool]:
    shape = (spec.height, spec.width, spec.channels)
    try:
        if pixels:
            arr = np.frombuffer(payload, np.uint8)
            if arr.size != shape[0] * shape[1] * shape[2]:
                raise BadInput(f"{name}: stored pixels do not match {shape}")
            return arr.reshape(shape), True
        return resize_to_spec(decode_image(payload, name), spec), True
    except BadInput as exc:
        if skips is not None:
            skips.add(name, str(exc))
        return np.zeros(shape, np.uint8), False


def image_bytes(spec: PreprocessSpec) -> int:
    return spec.width * spec.height * spec.channels


def resolve_cache(policy: str, images: int, spec: PreprocessSpec, budget_mb: int, cache_dir: Path | None) -> str | None:
    """The tf.data cache argument for a policy: "" = memory, a path = disk, None = stream every epoch."""
    if policy == "auto":
        policy = "memory" if images * image_bytes(spec) <= budget_mb * 2**20 else "none"
    if policy == "memory":
        return ""
    if policy == "disk":
        if cache_dir is None:
            raise BadInput("cache = 'disk' needs a cache folder")
        cache_dir.mkdir(parents=True, exist_ok=True)
        return str(cache_dir / "pixels")
    return None


class Stream:
    """One split as a tf.data pipeline; ``epoch(e)`` gives that epoch's batches.

    The decoded (and possibly cached) part is built once and shared by every epoch, so a
    memory or disk cache fills on the first pass and serves the rest.
    """

    def __init__(self, items: Items, spec: PreprocessSpec, batch_size: int, *, training: bool,
                 augment: Augment | None = None, seed: int = 42, cache: str | None = None,
                 skips: SkipLog | None = None, shard: tuple[int, int] | None = None) -> None:
        if not len(items):
            raise BadInput("no samples to load")
        self.items, self.spec, self.batch_size, self.training = items, spec, batch_size, training
        self.augment = augment if training and augment is not None and augment.enabled else None
        self.seed, self.cache, self.skips, self.shard = seed, cache, skips, shard
        self.size = len(items)
        self._decoded: Any = None

    @property
    def steps(self) -> int:
        """Batches per epoch if every image is readable (the progress bar's total)."""
        n = self.size if self.shard is None else -(-self.size // self.shard[0])
        return max(1, -(-n // self.batch_size))

    def _options(self) -> Any:
        import tensorflow as tf

        opts = tf.data.Options()
        opts.deterministic = True
        # sharding (multi-worker) is done by hand before decoding: no worker decodes another's images
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return opts

    def _source(self, order_seed: int | None) -> Any:
        """(payload, name, label) elements: a path per file, or the records of the shards."""
        import tensorflow as tf

        items = self.items
        if isinstance(items, ShardSplit):
            files = tf.data.Dataset.from_tensor_slices(list(items.files))
            if self.shard is not None:
                files = files.shard(*self.shard) if len(items.files) >= self.shard[0] else files
            if order_seed is not None:
                files = files.shuffle(len(items.files), seed=order_seed)
            feats = {"image/class/label": tf.io.FixedLenFeature([], tf.int64),
                     "image/filename": tf.io.FixedLenFeature([], tf.string, default_value=""),
                     "image/encoded" if items.content != PIXELS else "image/pixels":
                         tf.io.FixedLenFeature([], tf.string)}
            key = "image/pixels" if items.content == PIXELS else "image/encoded"

            def parse(rec: Any) -> tuple[Any, Any, Any]:
                ex = tf.io.parse_single_example(rec, feats)
                return ex[key], ex["image/filename"], tf.cast(ex["image/class/label"], tf.int32)

            ds = files.interleave(tf.data.TFRecordDataset, cycle_length=min(len(items.files), 16),
                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            if self.shard is not None and len(items.files) < self.shard[0]:
                ds = ds.shard(*self.shard)
            ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            if order_seed is not None:
                per_record = max(1, items.nbytes // max(1, items.count))
                ds = ds.shuffle(int(min(items.count, max(256, RECORD_BUFFER_BYTES // per_record))), seed=order_seed)
            return ds
        samples = list(items)
        if self.training:  # one fixed permutation so that cached pixels are not in class order
            rng = np.random.default_rng(self.seed)
            samples = [samples[i] for i in rng.permutation(len(samples))]
        paths = [s.path for s in samples]
        ds = tf.data.Dataset.from_tensor_slices((paths, paths, np.array([s.label for s in samples], np.int32)))
        if self.shard is not None:
            ds = ds.shard(*self.shard)
        if order_seed is not None:
            ds = ds.shuffle(len(samples), seed=order_seed)
        return ds

    def _decode(self, ds: Any) -> Any:
        import tensorflow as tf

        spec, skips = self.spec, self.skips
        shape = (spec.height, spec.width, spec.channels)
        is_shards = isinstance(self.items, ShardSplit)
        pixels = is_shards and self.items.content == PIXELS  # type: ignore[union-attr]

        def _load(payload: bytes, name: bytes) -> tuple[np.ndarray, bool]:
            if is_shards:
                return _decode_record(payload, name.decode("utf-8") or "shard record", spec, pixels, skips)
            return load_pixels(payload.decode("utf-8"), spec, skips)

        def _map(payload: Any, name: Any, label: Any) -> tuple[Any, Any, Any]:
            img, ok = tf.numpy_function(_load, [payload, name], [tf.uint8, tf.bool], stateful=False)
            img.set_shape(shape)
            ok.set_shape(())
            return img, label, ok

        def _readable(img: Any, label: Any, ok: Any) -> Any:
            return ok

        def _drop_flag(img: Any, label: Any, ok: Any) -> tuple[Any, Any]:
            return img, label

        ds = ds.map(_map, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.filter(_readable).map(_drop_flag)

    def _base(self) -> Any:
        """Decoded pixels in a fixed order, cached when asked; shared by all epochs."""
        if self._decoded is None:
            ds = self._decode(self._source(None))
            if self.cache is not None:
                ds = ds.cache(self.cache)
            self._decoded = ds
        return self._decoded

    def epoch(self, epoch: int = 0) -> Any:
        """The batches of one epoch: (float32 0..255 images, int32 labels)."""
        import tensorflow as tf

        eseed = epoch_seed(self.seed, epoch)
        if self.training and self.cache is None:
            ds = self._decode(self._source(eseed))  # shuffle names, not pixels: a perfect shuffle for free
        else:
            ds = self._base()
            if self.training:
                buffer = self.size if self.cache == "" else max(1024, SHUFFLE_BUFFER_BYTES // image_bytes(self.spec))
                ds = ds.shuffle(min(self.size, buffer), seed=eseed)
        ds = ds.batch(self.batch_size)
        aug = self.augment
        if aug is not None:
            def _augment(i: Any, batch: tuple[Any, Any]) -> tuple[Any, Any]:
                x, y = batch
                seed = tf.stack([tf.constant(eseed, tf.int64), i])
                return augment_batch(tf.cast(x, tf.float32), seed, aug), y

            ds = ds.enumerate().map(_augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        else:
            def _to_float(x: Any, y: Any) -> tuple[Any, Any]:
                return tf.cast(x, tf.float32), y

            ds = ds.map(_to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE).with_options(self._options())


def make_dataset(samples: Items, spec: PreprocessSpec, batch_size: int, *, training: bool,
                 augment: Augment | None = None, seed: int = 42, cache: str | None = "",
                 skips: SkipLog | None = None, epoch: int = 0) -> Any:
    """A batched ``tf.data.Dataset`` of (float32 0..255 images, int labels) for one epoch.

    ``cache``: "" caches decoded, resized images in memory, a path caches them on disk,
    None disables caching.
    """
    return Stream(samples, spec, batch_size, training=training, augment=augment, seed=seed, cache=cache,
                  skips=skips).epoch(epoch)
