"""[TF] Stream samples into tf.data: parallel decode, spec-exact resize, cache, augment, prefetch.

Decoding and resizing call the runtime's own functions (OpenCV, EXIF-aware), so training
sees pixels prepared exactly as the device will prepare them. Unreadable files are
skipped and counted, never a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgevision.data.discover import Sample
from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.images import read_image
from edgevision.runtime.preprocess import resize_to_spec
from edgevision.train.recipe import Augment


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


def augmenter(aug: Augment, seed: int) -> Any:
    """A Keras model of random layers for batches of float 0..255 images (None if all off)."""
    import keras

    layers: list[Any] = []
    if aug.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if aug.rotation:
        layers.append(keras.layers.RandomRotation(aug.rotation, fill_mode="reflect", seed=seed + 1))
    if aug.zoom:
        layers.append(keras.layers.RandomZoom(aug.zoom, fill_mode="reflect", seed=seed + 2))
    if aug.translate:
        layers.append(keras.layers.RandomTranslation(aug.translate, aug.translate, fill_mode="reflect",
                                                     seed=seed + 3))
    if aug.brightness:
        layers.append(keras.layers.RandomBrightness(aug.brightness, value_range=(0, 255), seed=seed + 4))
    if aug.contrast:
        layers.append(keras.layers.RandomContrast(aug.contrast, seed=seed + 5))
    return keras.Sequential(layers, name="augment") if layers else None


def make_dataset(samples: Sequence[Sample], spec: PreprocessSpec, batch_size: int, *, training: bool,
                 augment: Augment | None = None, seed: int = 42, cache: str | None = "",
                 skips: SkipLog | None = None) -> Any:
    """A batched ``tf.data.Dataset`` of (float32 0..255 images, int labels).

    ``cache``: "" caches decoded, resized images in memory, a path caches them on disk,
    None disables caching.
    """
    import tensorflow as tf

    if not samples:
        raise BadInput("no samples to load")
    paths = tf.constant([s.path for s in samples])
    labels = tf.constant([s.label for s in samples], dtype=tf.int32)
    shape = (spec.height, spec.width, spec.channels)

    def _load(path: Any) -> tuple[np.ndarray, bool]:
        return load_pixels(path.decode("utf-8"), spec, skips)

    def _map(path: Any, label: Any) -> tuple[Any, Any, Any]:
        img, ok = tf.numpy_function(_load, [path], [tf.uint8, tf.bool], stateful=False)
        img.set_shape(shape)
        ok.set_shape(())
        return img, label, ok

    def _readable(img: Any, label: Any, ok: Any) -> Any:
        return ok

    def _drop_flag(img: Any, label: Any, ok: Any) -> tuple[Any, Any]:
        return img, label

    def _to_float(x: Any, y: Any) -> tuple[Any, Any]:
        return tf.cast(x, tf.float32), y

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(_map, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.filter(_readable).map(_drop_flag)
    if cache is not None:
        ds = ds.cache(cache)
    if training:
        ds = ds.shuffle(min(len(samples), 10_000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(_to_float, num_parallel_calls=tf.data.AUTOTUNE)
    aug = augmenter(augment, seed) if training and augment is not None else None
    if aug is not None:
        def _augment(x: Any, y: Any) -> tuple[Any, Any]:
            return tf.clip_by_value(aug(x, training=True), 0.0, 255.0), y

        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
