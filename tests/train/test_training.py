"""Training: awkward files, reproducibility, early stopping, transfer learning, tf.distribute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from edgevision.train.recipe import Augment, Recipe
from tests.conftest import HAS_TF, REPO, free_port, need

pytestmark = pytest.mark.tf
QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115
TINY = Recipe(name="tiny", size=24, epochs=2, batch_size=32, patience=0,
              augment=Augment(flip=True, rotation=0.02, zoom=0.0, translate=0.05, brightness=0.05, contrast=0.0))


@pytest.fixture(autouse=True)
def _tf() -> None:
    need(HAS_TF, "TensorFlow is not installed")


def test_awkward_files_are_trained_on_or_skipped_and_recorded(messy_data: Path, tmp_path: Path) -> None:
    from edgevision.train.trainer import train

    result = train(messy_data, tmp_path / "run", TINY, QUIET)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert result.skipped == 2 and {Path(p).name for p in run["skipped"]} == {"corrupt.jpg", "empty.png"}
    assert run["epochs_run"] == 2 and run["cache"] == "memory" and run["data_kind"] == "folder"
    weights = {int(k): v for k, v in run["class_weights"].items()}
    counts = run["counts"]["train"]
    assert weights[int(np.argmax(counts))] < weights[int(np.argmin(counts))]  # the rarer class weighs more
    for split in ("val", "test"):
        m = run["metrics"][split]
        assert set(m) >= {"accuracy", "per_class", "macro", "weighted", "confusion", "worst_confusions"}
    state = json.loads((tmp_path / "run" / "checkpoints" / "state.json").read_text())
    assert state["finished"] and state["epochs_done"] == 2


def test_the_same_seed_gives_the_same_run(shapes_data: Path, tmp_path: Path) -> None:
    from edgevision.train.trainer import train

    a = train(shapes_data, tmp_path / "a", TINY, QUIET)
    b = train(shapes_data, tmp_path / "b", TINY, QUIET)
    c = train(shapes_data, tmp_path / "c", TINY.override(seed=7, epochs=1), QUIET)
    assert a.history["val_loss"] == b.history["val_loss"] and a.history["loss"] == b.history["loss"]
    assert a.history["loss"][0] != c.history["loss"][0]


def test_early_stopping_keeps_the_best_epoch(shapes_data: Path, tmp_path: Path) -> None:
    from edgevision.train.trainer import train

    frozen = TINY.override(epochs=12, patience=2, learning_rate=1e-12)  # weights stand still: no lasting gain
    result = train(shapes_data, tmp_path / "run", frozen, QUIET)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    val = result.history["val_accuracy"]
    assert run["stopped_early"] == ["scratch"] and run["epochs_planned"] == 12
    assert len(val) == result.best_epoch + 2 < 12          # stopped exactly `patience` epochs after the best
    assert val[result.best_epoch - 1] == max(val) >= max(val[result.best_epoch:])  # a tie is no gain
    # the saved model is the best epoch's, not the last one's
    assert run["metrics"]["val"]["accuracy"] == pytest.approx(val[result.best_epoch - 1], abs=1e-6)


def test_transfer_learning_from_a_local_weights_file(shapes_data: Path, tmp_path: Path) -> None:
    """--weights PATH: the base starts from the file, stays frozen, then only its top is fine-tuned."""
    import keras

    from edgevision.train.backbones import BACKBONE
    from edgevision.train.trainer import train

    keras.utils.set_random_seed(5)
    base = keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), alpha=0.75, minimalistic=True,
                                               include_top=False, weights=None, include_preprocessing=True)
    weights_file = tmp_path / "backbone.weights.h5"
    base.save_weights(weights_file)
    recipe = TINY.override(arch="mobilenet_v3_small", size=32, width=0.75, minimalistic=True,
                           weights=str(weights_file), epochs=1, fine_tune_epochs=1, fine_tune_fraction=0.2)
    train(shapes_data, tmp_path / "run", recipe, QUIET)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["stages"] == ["head", "fine_tune"]
    last = tmp_path / "run" / "checkpoints" / "epoch-0002.keras"  # model.keras is the best epoch's, maybe the first
    trained = keras.models.load_model(last, compile=False).get_layer(BACKBONE)
    kernels = [(i, layer) for i, layer in enumerate(base.layers) if getattr(layer, "kernel", None) is not None]
    first_i, first = kernels[0]
    last_i, last = kernels[-1]
    np.testing.assert_array_equal(trained.layers[first_i].kernel.numpy(), first.kernel.numpy())  # loaded, frozen
    assert not np.array_equal(trained.layers[last_i].kernel.numpy(), last.kernel.numpy())       # fine-tuned

    with pytest.raises(Exception, match="file not found"):
        train(shapes_data, tmp_path / "bad", recipe.override(weights=str(tmp_path / "missing.h5")), QUIET)


@pytest.mark.parametrize("arch", ["mobilenet_v2", "mobilenet_v3_small"])
def test_backbones_normalize_inside_so_int8_input_is_raw_pixels(arch: str) -> None:
    import tensorflow as tf

    from edgevision.train.backbones import build_model

    model = build_model(Recipe(arch=arch, size=32, width=0.35 if arch == "mobilenet_v2" else 0.75), num_classes=3)
    data = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype(np.float32)
    data[0] = 0.0
    data[1] = 255.0
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([data[i:i + 1]] for i in range(len(data)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    interp = tf.lite.Interpreter(model_content=conv.convert())
    scale, zero_point = interp.get_input_details()[0]["quantization"]
    assert (scale, zero_point) == (1.0, 0)


MIRRORED = """
import json, os, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from rich.console import Console
from edgevision.train.recipe import Recipe
from edgevision.train.trainer import train
r = Recipe(name="mirrored", size=24, epochs=2, batch_size=32, patience=0)
res = train(sys.argv[1], sys.argv[2], r, Console(file=open(os.devnull, "w")), strategy="mirrored")
print(json.dumps({"epochs": len(res.history["loss"]), "acc": res.metrics["test"]["accuracy"]}))
"""


def test_mirrored_strategy_on_two_logical_cpus(shapes_data: Path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", MIRRORED, str(shapes_data), str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.splitlines()[-1])["epochs"] == 2
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["distribution"] == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    assert (tmp_path / "run" / "model.keras").is_file()


def test_multiworker_needs_tf_config(cli, shapes_data: Path, tmp_path: Path) -> None:
    env_free = cli("train", shapes_data, "--out", tmp_path / "run", "--strategy", "multiworker")
    assert env_free.returncode == 2 and "TF_CONFIG" in env_free.stderr and "Traceback" not in env_free.stderr


@pytest.mark.slow
def test_multiworker_training_with_two_local_workers(shapes_data: Path, tmp_path: Path) -> None:
    """Two worker processes on loopback, as the README describes for two machines."""
    workers = [f"localhost:{free_port()}" for _ in range(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "edgevision", "train", str(shapes_data), "--out", str(tmp_path / "run"),
             "--size", "24", "--epochs", "2", "--strategy", "multiworker", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "2"}))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    chief, other = (json.loads(o) for o, _ in outs)
    assert chief["epochs_run"] == other["epochs_run"] == 2
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["distribution"] == {"strategy": "multiworker", "replicas": 2, "workers": 2}
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 2
