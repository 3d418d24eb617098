"""The streaming loader: device-exact pixels from folders and shards, skips, caches, reproducible epochs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgevision.data.discover import discover
from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.images import read_image
from edgevision.runtime.preprocess import resize_to_spec
from edgevision.train.recipe import Augment
from tests.conftest import HAS_TF, need

pytestmark = pytest.mark.tf
SPEC = PreprocessSpec(width=24, height=24, resize="area")


@pytest.fixture(autouse=True)
def _tf() -> None:
    need(HAS_TF, "TensorFlow is not installed")


def _all(ds) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_folder_stream_gives_device_pixels_and_skips_unreadable_once(messy_data: Path) -> None:
    from edgevision.data.loader import SkipLog, Stream

    ds = discover(messy_data)
    skips = SkipLog()
    stream = Stream(ds.train, SPEC, 16, training=False, cache="", skips=skips)
    for _ in range(2):
        x, y = _all(stream.epoch(0))
    assert x.dtype == np.float32 and x.shape[1:] == (24, 24, 3)
    assert len(x) == len(ds.train) - 2 and skips.count == 2
    assert {Path(p).name for p in skips.paths} == {"corrupt.jpg", "empty.png"}
    readable = [s for s in ds.train if Path(s.path).name not in ("corrupt.jpg", "empty.png")]
    expected = np.stack([resize_to_spec(read_image(s.path), SPEC) for s in readable])
    np.testing.assert_array_equal(x, expected.astype(np.float32))  # in order, exactly what the device computes
    assert list(y) == [s.label for s in readable]


@pytest.mark.parametrize("cache", ["", None, "disk"])
def test_epochs_are_reproducible_and_differ_from_each_other(shapes_data: Path, tmp_path: Path, cache) -> None:
    from edgevision.data.loader import Stream

    ds = discover(shapes_data)
    cache_arg = str(tmp_path / "pixels") if cache == "disk" else cache

    def stream() -> Stream:
        return Stream(ds.train, SPEC, 32, training=True, augment=Augment(), seed=7, cache=cache_arg)

    a, b = stream(), stream()
    x1, y1 = _all(a.epoch(1))
    x1b, y1b = _all(b.epoch(1))
    np.testing.assert_array_equal(x1, x1b)   # same seed and epoch: same order, same augmentation
    np.testing.assert_array_equal(y1, y1b)
    _, y2 = _all(a.epoch(2))
    assert not np.array_equal(y1, y2)        # another epoch: another order
    assert sorted(y1) == sorted(y2) == sorted(s.label for s in ds.train)
    assert x1.min() >= 0.0 and x1.max() <= 255.0
    if cache == "disk":
        assert any(tmp_path.glob("pixels*.index"))


def test_cache_policy(tmp_path: Path) -> None:
    from edgevision.data.loader import resolve_cache

    spec = PreprocessSpec(width=64, height=64)  # 12 KiB per image
    assert resolve_cache("auto", 1000, spec, 100, None) == ""          # 12 MB fits 100 MB: memory
    assert resolve_cache("auto", 100_000, spec, 100, None) is None     # 1.2 GB does not: stream
    assert resolve_cache("disk", 10, spec, 0, tmp_path / "c").endswith("pixels")
    assert resolve_cache("none", 1, spec, 100, None) is None
    with pytest.raises(BadInput, match="needs a cache folder"):
        resolve_cache("disk", 1, spec, 0, None)


def test_augmentation_is_a_pure_function_of_the_seed() -> None:
    import tensorflow as tf

    from edgevision.data.augment import augment_batch

    x = tf.constant(np.random.default_rng(0).integers(0, 255, (4, 16, 16, 3)).astype(np.float32))
    aug = Augment(flip=True, rotation=0.1, zoom=0.2, translate=0.1, brightness=0.2, contrast=0.2)
    a = augment_batch(x, tf.constant([1, 2], tf.int64), aug).numpy()
    b = augment_batch(x, tf.constant([1, 2], tf.int64), aug).numpy()
    c = augment_batch(x, tf.constant([1, 3], tf.int64), aug).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and a.shape == x.shape
    off = Augment(flip=False, rotation=0, zoom=0, translate=0, brightness=0, contrast=0)
    np.testing.assert_allclose(augment_batch(x, tf.constant([1, 2], tf.int64), off).numpy(), x.numpy())
    flip_only = Augment(flip=True, rotation=0, zoom=0, translate=0, brightness=0, contrast=0)
    flipped = augment_batch(x, tf.constant([5, 5], tf.int64), flip_only).numpy()
    for i in range(4):  # every image is either untouched or exactly mirrored
        assert np.array_equal(flipped[i], x.numpy()[i]) or np.array_equal(flipped[i], x.numpy()[i][:, ::-1])


def test_shards_stream_the_same_pixels_as_the_folder(messy_data: Path, tmp_path: Path) -> None:
    from edgevision.data.loader import SkipLog, Stream
    from edgevision.data.shards import open_shards, pack

    ds = discover(messy_data)
    manifest = pack(ds, tmp_path / "shards", 3, threads=2)
    assert {Path(p).name for p, _ in manifest["skipped"]} == {"corrupt.jpg", "empty.png"}
    shards = open_shards(tmp_path / "shards")
    assert len(shards.splits["train"].files) == 3 and shards.splits["train"].count == len(ds.train) - 2
    assert len(shards.splits["val"].files) == 1 and shards.classes == ds.classes
    skips = SkipLog()
    xs, ys = _all(Stream(shards.splits["train"], SPEC, 16, training=False, skips=skips).epoch(0))
    xf, yf = _all(Stream(ds.train, SPEC, 16, training=False).epoch(0))
    assert skips.count == 0 and len(xs) == len(xf)

    def canon(x: np.ndarray, y: np.ndarray) -> list[tuple[int, bytes]]:
        return sorted((int(label), img.tobytes()) for img, label in zip(x, y, strict=True))

    assert canon(xs, ys) == canon(xf, yf)  # same images, same labels, decoded by the same function
    a = _all(Stream(shards.splits["train"], SPEC, 16, training=True, seed=3).epoch(4))[1]
    b = _all(Stream(shards.splits["train"], SPEC, 16, training=True, seed=3).epoch(4))[1]
    np.testing.assert_array_equal(a, b)


def test_pixel_shards_refuse_another_spec(shapes_data: Path, tmp_path: Path) -> None:
    from edgevision.data.loader import Stream
    from edgevision.data.shards import open_shards, pack

    pack(discover(shapes_data), tmp_path / "px", 2, spec=SPEC)
    shards = open_shards(tmp_path / "px")
    shards.check_spec(SPEC)
    with pytest.raises(BadInput, match=r"pre-resized with another preprocessing spec .*width 24 vs 32"):
        shards.check_spec(PreprocessSpec(width=32, height=32, resize="area"))
    x, _ = _all(Stream(shards.splits["test"], SPEC, 8, training=False).epoch(0))
    assert x.shape[1:] == (24, 24, 3) and len(x) == 5 * 16
    with pytest.raises(BadInput, match="already holds shards"):
        pack(discover(shapes_data), tmp_path / "px", 2)
