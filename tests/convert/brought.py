"""Third-party-style models built here (nothing downloaded), for the bring-your-own-model tests.

- ``teachable_machine``: a Keras 2 (tf_keras) ``keras_model.h5`` in Teachable Machine's layout —
  a Sequential of a MobileNet-style feature extractor and a Sequential dense head, input
  scaled to [-1, 1] outside the model — and ``labels.txt`` with ``N name`` lines.
- ``float_tflite``: that model exported as a float .tflite without metadata.
- ``subset``: a small train/test copy of the shared sign-language digits.

The PyTorch / ONNX builders are in ``torch_models.py`` (they run in the converter venv).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

SIZE = 48


def subset(src: Path, dst: Path, per_class: dict[str, int]) -> Path:
    """``per_class`` images of each class from each split (sorted, so the subset is stable)."""
    for split, n in per_class.items():
        for cdir in sorted((src / split).iterdir()):
            if not cdir.is_dir():
                continue
            out = dst / split / cdir.name
            out.mkdir(parents=True, exist_ok=True)
            for f in sorted(cdir.iterdir())[:n]:
                shutil.copy(f, out / f.name)
    return dst


def _pixels(data: Path, split: str, size: int, crop: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from edgevision.data.loader import load_pixels
    from edgevision.model.spec import PreprocessSpec

    spec = PreprocessSpec(width=size, height=size, crop=crop)
    classes = sorted(p.name for p in (data / split).iterdir() if p.is_dir())
    xs, ys = [], []
    for i, c in enumerate(classes):
        for f in sorted((data / split / c).iterdir()):
            img, ok = load_pixels(str(f), spec)
            if ok:
                xs.append(img)
                ys.append(i)
    return np.stack(xs).astype(np.float32), np.asarray(ys), classes


def teachable_machine(data: Path, out: Path, epochs: int = 20) -> tuple[Path, Path]:
    """(keras_model.h5, labels.txt) as Teachable Machine's Keras export lays them out."""
    import tf_keras as k

    x, y, classes = _pixels(data, "train", SIZE, "center")
    x = x / 127.5 - 1.0  # Teachable Machine normalizes outside the model
    k.utils.set_random_seed(3)
    L = k.layers

    def BN() -> k.layers.Layer:
        return L.BatchNormalization(momentum=0.9)

    def block(filters: int, stride: int) -> list[k.layers.Layer]:
        return [L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False), BN(),
                L.ReLU(6.0), L.Conv2D(filters, 1, use_bias=False), BN(), L.ReLU(6.0)]

    features = k.Sequential([L.InputLayer(input_shape=(SIZE, SIZE, 3)),
                             L.Conv2D(16, 3, strides=2, padding="same", use_bias=False), BN(),
                             L.ReLU(6.0), *block(32, 1), *block(64, 2), *block(64, 1), *block(128, 2),
                             L.GlobalAveragePooling2D()], name="sequential_1")
    head = k.Sequential([L.Dense(100, activation="relu", name="dense_Dense1"),
                         L.Dense(len(classes), activation="softmax", name="dense_Dense2")], name="sequential_3")
    model = k.Sequential([features, head], name="sequential_4")
    model.build((None, SIZE, SIZE, 3))
    model.compile(k.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    out.mkdir(parents=True, exist_ok=True)
    h5 = out / "keras_model.h5"
    model.save(h5, save_format="h5")
    _teachable_machine_config(h5)
    labels = out / "labels.txt"
    labels.write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes)), encoding="utf-8")
    return h5, labels


def _teachable_machine_config(h5: Path) -> None:
    """Teachable Machine's exporter writes ``groups: 1`` into every DepthwiseConv2D config (tf.keras accepts it):
    the reason Keras 3 refuses its files. Reproduce that, so the test meets the file users have."""
    import json

    import h5py

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("class_name") == "DepthwiseConv2D":
                node["config"]["groups"] = 1
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    with h5py.File(h5, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        walk(cfg)
        f.attrs["model_config"] = json.dumps(cfg)


def float_tflite(h5: Path, out: Path) -> Path:
    """The Keras 2 model as a plain float .tflite (no metadata), as many downloads come."""
    import tensorflow as tf
    import tf_keras as k

    model = k.models.load_model(h5, compile=False)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    out.write_bytes(conv.convert())
    return out


def keras_predict(h5: Path, data: Path, split: str = "test") -> tuple[np.ndarray, list[str]]:
    """Top-1 of the original tf_keras model on the split (centre crop, [-1, 1]), and the files in order."""
    import tf_keras as k

    x, _, classes = _pixels(data, split, SIZE, "center")
    files = [str(f) for c in classes for f in sorted((data / split / c).iterdir())]
    model = k.models.load_model(h5, compile=False)
    return model.predict(x / 127.5 - 1.0, verbose=0).argmax(-1), files
