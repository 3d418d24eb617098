"""Fixtures for the converter tests: a run whose int8 conversion is deliberately broken.

The outlier run reuses the session's shapes run (data splits, labels, preprocessing) with
its own small CNN, trained here to a useful accuracy so that a collapse is measurable.
Then one output channel of ``conv2`` is scaled up by ``OUTLIER_SCALE`` and the matching
input weights of ``conv3`` scaled down by the same factor. ReLU and max-pooling commute
with a positive scale, so the float model is *mathematically the same model*; but int8
uses one quantization step per activation tensor, and that one channel's range makes the
step so coarse that the other 31 channels of conv2's output round to almost nothing.
That is the classic activation-outlier failure of post-training quantization.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HAS_TF, need

OUTLIER_SCALE = 300.0


def _train_clean_model(run: Path) -> Any:
    """A plain Conv-ReLU-Pool CNN (layer names as in small_cnn) trained on the run's train split."""
    import keras
    import numpy as np

    from edgevision.data.discover import Dataset
    from edgevision.data.loader import load_pixels
    from edgevision.model.spec import PreprocessSpec

    ds = Dataset.from_json((run / "dataset.json").read_text())
    spec = PreprocessSpec.from_dict(json.loads((run / "run.json").read_text())["preprocess"])
    x = np.stack([load_pixels(s.path, spec)[0] for s in ds.train]).astype(np.float32)
    y = np.asarray([s.label for s in ds.train])
    keras.utils.set_random_seed(7)
    L = keras.layers
    inp = keras.Input((spec.height, spec.width, 3), name="image")
    h = L.Rescaling(1 / 255.0, name="normalize")(inp)
    for i, filters in enumerate((16, 32, 64)):
        h = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i + 1}")(h)
        h = L.MaxPooling2D(2, name=f"pool{i + 1}")(h)
    h = L.Flatten(name="flatten")(h)
    h = L.Dense(64, activation="relu", name="fc")(h)
    out = L.Dense(len(ds.classes), activation="softmax", name="probability")(h)
    model = keras.Model(inp, out, name="small_cnn")
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=25, batch_size=32, verbose=0)
    return model


def make_outlier_run(src: Path, dst: Path, scale: float = OUTLIER_SCALE) -> Path:
    import numpy as np

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("export"))
    model = _train_clean_model(dst)
    model.save(dst / "clean.keras")
    conv2 = model.get_layer("conv2")
    kernel, bias = (np.array(w) for w in conv2.get_weights())
    kernel[..., 0] *= scale
    bias[0] *= scale
    conv2.set_weights([kernel, bias])
    conv3 = model.get_layer("conv3")
    k3, b3 = (np.array(w) for w in conv3.get_weights())
    k3[:, :, 0, :] /= scale
    conv3.set_weights([k3, b3])
    model.save(dst / "model.keras")
    return dst


@pytest.fixture(scope="session")
def outlier_run(trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(HAS_TF, "TensorFlow is not installed")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return make_outlier_run(trained.run, tmp_path_factory.mktemp("outlier") / "run")
