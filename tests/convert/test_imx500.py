"""``edgevision convert RUN --target imx500``: graph export, the normalization as the network's first layer, refusals.

The slow tests run Sony's real toolchain (Model Compression Toolkit + imxconv-tf) in its own
venv (`make imx500-venv`); the others need only TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HAS_TF, REPO, need

pytestmark = pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed")


def toolchain_python() -> Path:
    return Path(os.environ.get("EDGEVISION_IMX500_PYTHON") or REPO / ".venv-imx500" / "bin" / "python")


def need_toolchain() -> None:
    py = toolchain_python()
    need(py.is_file() and py.with_name("imxconv-tf").is_file(), f"IMX500 toolchain not at {py} (make imx500-venv)")


def tiny_model(kind: str = "plain", size: int = 32, classes: int = 5):
    import keras

    L = keras.layers
    inp = keras.Input((size, size, 3), name="image")
    h = L.Rescaling(1 / 127.5, offset=-1.0, name="normalize")(inp)
    if kind == "nested":
        sub_in = keras.Input((size, size, 3))
        sub = keras.Model(sub_in, L.ReLU(name="inner_relu")(L.Conv2D(4, 3, padding="same", name="inner")(sub_in)),
                          name="backbone")
        h = sub(h)
    h = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(h)
    if kind == "unsupported":
        h = L.Rescaling(2.0, name="mid_scale")(h)
    h = L.Flatten(name="flatten")(h)
    if kind == "large":
        h = L.Dense(1200, activation="relu", name="huge_fc")(h)
    return keras.Model(inp, L.Dense(classes, activation="softmax", name="probability")(h))


def test_input_normalization_leaves_the_graph_for_the_sensor(tmp_path: Path) -> None:
    from edgevision.convert.imx500.graph_export import NORM_LAYER, export_graph, with_input_normalization
    from edgevision.convert.imx500.mct_convert import sensor_normalization
    from edgevision.model.spec import PreprocessSpec

    g = export_graph(tiny_model("nested"), tmp_path)
    assert g.removed == ("normalize (Rescaling)",) and g.mean == (127.5,) and g.std == (127.5,)
    graph = json.loads(g.graph_path.read_text())
    names = [r["name"] for r in graph["layers"]]
    assert names[:2] == ["inner", "inner_relu"] and "normalize" not in names  # nested model flattened
    assert graph["layers"][0]["inputs"] == ["input"]
    with np.load(g.weights_path) as w:
        assert w["inner:0"].shape == (3, 3, 3, 4)
    spec = PreprocessSpec(32, 32)  # edgevision models take raw pixels: the sensor does the graph's (x-127.5)/127.5
    assert sensor_normalization(spec, g.mean, g.std) == ((127.5,), (127.5,))
    unit = PreprocessSpec(32, 32, mean=(0.0,), std=(255.0,))  # a model fed 0..1 whose graph then maps to -1..1
    assert sensor_normalization(unit, (0.5,), (0.5,)) == ((127.5,), (127.5,))
    # imx500-package leaves the sensor's input normalization at identity: the network normalizes, as a layer
    # the IMX500 runs (1x1 depthwise: the same affine map), and takes raw 0..255 pixels
    g2 = with_input_normalization(g, (123.7, 116.3, 103.5), (58.4, 57.1, 57.4), 3)
    graph = json.loads(g2.graph_path.read_text())
    first = graph["layers"][0]
    assert g2.norm_layer == NORM_LAYER and first["name"] == NORM_LAYER and first["inputs"] == ["input"]
    assert first["class_name"] == "DepthwiseConv2D" and first["config"]["kernel_size"] == [1, 1]
    assert graph["layers"][1]["inputs"] == [NORM_LAYER]
    with np.load(g2.weights_path) as w:
        kernel, bias = w[f"{NORM_LAYER}:0"], w[f"{NORM_LAYER}:1"]
    px = np.array([0.0, 128.0, 255.0], np.float32)
    assert kernel.shape == (1, 1, 3, 1)
    np.testing.assert_allclose(px * kernel[0, 0, :, 0] + bias, (px - [123.7, 116.3, 103.5]) / [58.4, 57.1, 57.4],
                               rtol=1e-6, atol=1e-6)
    assert with_input_normalization(g, (0.0,), (1.0,), 3) is g  # raw pixels already: nothing to add


def test_the_network_must_read_raw_pixels() -> None:
    from edgevision.convert.imx500.mct_convert import check_raw_input
    from edgevision.convert.imx500.toolchain import ConversionRefused

    check_raw_input({"format": "unsigned", "scale": 1.0, "shift": 0})
    for bad in ({"format": "unsigned", "scale": 0.00390625, "shift": 0}, {"format": "signed", "scale": 1.0}, {}):
        with pytest.raises(ConversionRefused, match="imx500:"):
            check_raw_input(bad)


def test_a_normalization_deeper_in_the_graph_stays_for_the_converter_to_name(tmp_path: Path) -> None:
    from edgevision.convert.imx500.graph_export import export_graph

    g = export_graph(tiny_model("unsupported"), tmp_path)
    assert [r["name"] for r in json.loads(g.graph_path.read_text())["layers"]].count("mid_scale") == 1


def test_too_large_for_the_sensor_is_refused_naming_the_layer(tmp_path: Path) -> None:
    from edgevision.convert.imx500.graph_export import export_graph
    from edgevision.convert.imx500.mct_convert import check_fits
    from edgevision.convert.imx500.toolchain import ConversionRefused

    with pytest.raises(ConversionRefused, match=r"does not fit the IMX500's memory.*huge_fc 9\.4 MB") as err:
        check_fits(export_graph(tiny_model("large"), tmp_path / "big"))
    assert err.value.exit_code == 2
    check_fits(export_graph(tiny_model(), tmp_path / "small"))


def test_without_the_toolchain_one_line_naming_what_to_install(cli, trained, tmp_path: Path) -> None:
    env = {**cli.env, "EDGEVISION_IMX500_PYTHON": str(tmp_path / "nowhere" / "python")}
    r = type(cli)(cli.python, env)("convert", trained.run, "--target", "imx500", "--out", tmp_path / "out")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error:"), r.stderr
    assert "edge-mdt[tf]" in r.stderr and "make imx500-venv" in r.stderr
    assert "`edgevision toolchain install imx500`" in r.stderr  # what a pip user (no Makefile) runs
    assert not (tmp_path / "out").exists()
    r = cli("convert", trained.run, "--target", "imx500", "--target", "edgetpu")
    assert r.returncode == 2 and "cannot be combined" in r.stderr


def _run_with(trained, model, dst: Path) -> Path:
    shutil.copytree(trained.run, dst, ignore=shutil.ignore_patterns("export"))
    model.save(dst / "model.keras")
    return dst


@pytest.mark.slow
def test_demo_model_to_packerout_with_the_real_toolchain(cli, trained, tmp_path: Path) -> None:
    need_toolchain()
    r = cli("convert", trained.run, "--target", "imx500", "--max-drop", "5", "--out", tmp_path, "--json",
            timeout=1800)
    assert r.returncode in (0, 1), r.stderr
    rep = json.loads(r.stdout)
    imx = rep["imx500"]
    assert Path(imx["packer"]).name == "packerOut.zip" and Path(imx["packer"]).stat().st_size > 1000
    assert imx["memory"]["fits"] is True and 0 < imx["memory"]["used_kb"] < imx["memory"]["total_kb"]
    norm = imx["normalization"]
    assert norm["removed_from_graph"] == ["normalize (Rescaling)"] and norm["std"] == [255.0]
    assert norm["where"] == "network" and norm["layer"] == "edgevision_input_norm"
    # the quantized network reads the sensor's pixels as they are: what the identity sensor setting feeds it
    assert norm["input_tensor"]["format"] == "unsigned" and norm["input_tensor"]["scale"] == 1.0
    assert norm["sensor"]["network_info"]["inputTensorNorm_K00"] == "0x0400"
    assert imx["toolchain"]["probe_max_diff"] < 2e-3  # the TF 2.15 rebuild equals the Keras 3 model
    assert {ly["op"] for ly in imx["layers"]} >= {"DepthwiseConv2D", "Conv2D", "Dense"}
    assert "Rescaling" not in str(imx["layers"])
    assert set(rep["variants"]) == {"float32", "imx500"} and rep["passed"] == (rep["drop_points"] <= 5)
    assert rep["calibration"]["stratified"] is True
    card = json.loads((tmp_path / "shapes_imx500" / "imx500.json").read_text())
    assert card["preprocess"]["std"] == [255.0] and card["preprocess"]["normalization_on"] == "sensor"
    assert card["target"]["normalization"]["where"] == "network"
    info = cli("info", imx["packer"])
    assert info.returncode == 0 and "fits in the sensor" in info.stdout and "std=[255.0]" in info.stdout


@pytest.mark.slow
def test_default_recipe_on_the_sign_digits_to_packerout(cli, sign_digits, tmp_path: Path) -> None:
    need_toolchain()
    run = tmp_path / "run"
    t = cli("train", sign_digits, "--out", run, "--epochs", "3", timeout=3600)
    assert t.returncode == 0, t.stderr
    r = cli("convert", run, "--target", "imx500", "--max-drop", "100", "--json", timeout=3600)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert (Path(rep["imx500"]["packer"])).is_file() and rep["imx500"]["memory"]["fits"] is True
    assert rep["images"] > 100 and 0 <= rep["variants"]["imx500"]["accuracy"] <= 1


@pytest.mark.slow
def test_unsupported_layer_is_named(cli, trained, tmp_path: Path) -> None:
    need_toolchain()
    run = _run_with(trained, tiny_model("unsupported"), tmp_path / "run")
    r = cli("convert", run, "--target", "imx500", "--calibration-size", "20", timeout=1800)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]  # TF's own start-up chatter aside
    assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "unsupported by the IMX500 converter: layer mid_scale (Rescaling)" in errors[0]


REBUILD = """
import sys, numpy as np, tensorflow as tf
sys.path.insert(0, sys.argv[1])
import worker
m = worker.rebuild(tf, np, sys.argv[2] + "/graph.json", sys.argv[2] + "/weights.npz")
x = worker.normalized(np, np.load(sys.argv[2] + "/x.npy"), [0.0], [1.0])
print(float(np.max(np.abs(worker.predict(m, np, x) - np.load(sys.argv[2] + "/y.npy")))))
"""


@pytest.mark.slow
def test_mobilenet_v2_backbone_rebuilds_identically_in_the_toolchain(tmp_path: Path) -> None:
    """The transfer-learning recipe's graph (nested MobileNetV2: ZeroPadding, DepthwiseConv, ReLU6, Add)."""
    import subprocess

    from edgevision.convert.imx500.graph_export import export_graph, with_input_normalization
    from edgevision.train.backbones import build_model
    from edgevision.train.recipe import load_recipe

    need_toolchain()
    model = build_model(load_recipe("mobilenet_v2").override(weights="none", size=96, width=0.35), num_classes=4)
    rng = np.random.default_rng(1)
    for layer in model.get_layer("backbone").layers:  # untrained batch norms would zero every feature
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma, beta + rng.normal(0, 0.5, beta.shape), mean, var])
    w = model.get_layer("probability").get_weights()
    model.get_layer("probability").set_weights([rng.normal(0, 0.05, w[0].shape), w[1]])  # not saturated
    g = export_graph(model, tmp_path)
    assert g.removed == ("normalize (Rescaling)",) and g.layers > 100
    g = with_input_normalization(g, g.mean, g.std, 3)  # raw pixels in, as on the sensor
    x = rng.integers(0, 256, (3, 96, 96, 3)).astype(np.float32)
    y = np.asarray(model(x, training=False))
    assert float(np.ptp(y)) > 1e-3  # the check below compares scores that differ
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    worker_dir = REPO / "edgevision" / "convert" / "imx500"
    out = subprocess.run([str(toolchain_python()), "-c", REBUILD, str(worker_dir), str(tmp_path)], capture_output=True,
                         text=True, timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-4


@pytest.fixture()
def brought_data(tmp_path: Path) -> Path:
    """Three classes of flat colour images (32 px), train/ and test/ folders, and labels.txt."""
    import cv2

    rng = np.random.default_rng(3)
    for split, n in (("train", 24), ("test", 9)):
        for k, c in enumerate(("red", "green", "blue")):
            (tmp_path / "data" / split / c).mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 60, (40, 40, 3)).astype(np.uint8)
                img[..., 2 - k] = 150 + rng.integers(0, 100)  # BGR on disk: the class colour is strong
                cv2.imwrite(str(tmp_path / "data" / split / c / f"{i}.png"), img)
    (tmp_path / "labels.txt").write_text("red\ngreen\nblue\n")
    return tmp_path / "data"


def brought_keras(path: Path, normalize_inside: bool) -> Path:
    """A small Keras 3 classifier of colours; with ``normalize_inside`` it starts with a Rescaling to [0, 1]."""
    import keras

    L = keras.layers
    inp = keras.Input((32, 32, 3))
    h = L.Rescaling(1 / 255.0)(inp) if normalize_inside else inp
    h = L.Conv2D(4, 3, padding="same", activation="relu")(h)
    h = L.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, L.Dense(3, activation="softmax")(h))
    keras.utils.set_random_seed(0)
    model.save(path)
    return path


def test_brought_models_other_than_keras_are_refused_in_one_line(cli, brought_data: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    for name in ("net.onnx", "model.tflite", "model.pt2"):
        (tmp_path / name).write_bytes(b"not really a model, never loaded")
        r = cli("convert", tmp_path / name, "--target", "imx500", "--data", brought_data, "--labels", labels)
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        assert r.returncode == 2 and len(errors) == 1, r.stderr
        assert "--target imx500 takes a Keras model (.keras, or .h5 from Keras 3 or tf.keras 2)" in errors[0]
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"x")
    r = cli("convert", tmp_path / "sm", "--target", "imx500", "--data", brought_data, "--labels", labels)
    assert r.returncode == 2 and "not a SavedModel" in r.stderr, r.stderr
    keras_file = brought_keras(tmp_path / "m.keras", True)  # a Keras model is taken; without the toolchain: one line
    env = {**cli.env, "EDGEVISION_IMX500_PYTHON": str(tmp_path / "nowhere" / "python")}
    r = type(cli)(cli.python, env)("convert", keras_file, "--target", "imx500", "--data", brought_data,
                                   "--labels", labels)
    assert r.returncode == 2 and "make imx500-venv" in r.stderr, r.stderr


@pytest.mark.slow
def test_brought_keras_model_to_packerout_with_the_declared_normalization(cli, brought_data: Path,
                                                                           tmp_path: Path) -> None:
    """A Keras model with no normalization layer, declared --norm symmetric: the network normalizes raw pixels."""
    need_toolchain()
    model = brought_keras(tmp_path / "colours.keras", False)
    r = cli("convert", model, "--target", "imx500", "--data", brought_data, "--labels", tmp_path / "labels.txt",
            "--norm", "symmetric", "--max-drop", "100", "--out", tmp_path / "out", "--json", timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(r.stdout)
    norm = rep["imx500"]["normalization"]
    assert norm["mean"] == [127.5] and norm["std"] == [127.5] and norm["removed_from_graph"] == []
    assert norm["layer"] == "edgevision_input_norm" and norm["input_tensor"]["scale"] == 1.0
    assert rep["imx500"]["toolchain"]["probe_max_diff"] < 2e-3  # rebuilt graph + layer == model on (x-127.5)/127.5
    assert rep["source"]["format"] == "keras" and rep["images"] == 27
    card = json.loads((tmp_path / "out" / "colours_imx500" / "imx500.json").read_text())
    assert card["source"]["preprocess"]["applied"].startswith("on the sensor")
    assert (tmp_path / "out" / "colours_imx500" / "packerOut.zip").is_file()


@pytest.mark.slow
def test_teachable_machine_keras2_file_to_packerout(cli, tmp_path: Path) -> None:
    """Teachable Machine's keras_model.h5 (tf.keras 2, `groups` in its DepthwiseConv2D configs, normalization
    outside the model): exported as a layer list, its declared [-1, 1] becomes the network's first layer."""
    import importlib.util

    from tests.conftest import SIGN_DIGITS
    from tests.convert.brought import subset, teachable_machine

    need_toolchain()
    need(importlib.util.find_spec("tf_keras") is not None, "tf_keras is not installed (pip install -e '.[keras2]')")
    data = subset(SIGN_DIGITS, tmp_path / "digits", {"train": 20, "test": 10})
    h5, labels = teachable_machine(data, tmp_path / "converted_keras", epochs=8)
    r = cli("convert", h5, "--labels", labels, "--data", data, "--preset", "teachable-machine", "--target", "imx500",
            "--max-drop", "100", "--out", tmp_path / "out", "--json", timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(r.stdout)
    norm = rep["imx500"]["normalization"]
    assert rep["source"]["format"] == "keras2" and norm["mean"] == [127.5] and norm["std"] == [127.5]
    assert norm["input_tensor"]["scale"] == 1.0 and rep["imx500"]["toolchain"]["probe_max_diff"] < 2e-3
    assert rep["imx500"]["memory"]["fits"] is True and rep["images"] == 100
    assert rep["variants"]["imx500"]["accuracy"] >= rep["variants"]["float32"]["accuracy"] - 0.1
