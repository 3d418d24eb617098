"""Bad models and labels for `edgevision convert MODEL`: one `error:` line naming the cause, exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HAS_TF, Cli, need

pytestmark = pytest.mark.tf


def _onnx(path: Path, inputs: list[tuple[str, list[int | str]]], outputs: list[tuple[str, list[int]]]) -> Path:
    """A tiny ONNX graph built with onnx.helper (no torch): every output is a ReduceMean of the first input."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs]
    nodes = [helper.make_node("ReduceMean", [inputs[0][0]], [n], axes=[2, 3], keepdims=0) for n, _ in outputs]
    model = helper.make_model(helper.make_graph(nodes, "g", ins, outs), opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    import cv2

    for c in ("a", "b", "c"):
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(8):
            cv2.imwrite(str(tmp_path / "data" / c / f"{i}.png"), np.full((20, 30, 3), 30 * i, np.uint8))
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    return tmp_path / "data"


def _error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for w in words:
        assert w in last, last


def test_onnx_two_inputs(tmp_path: Path, data: Path, cli: Cli) -> None:
    m = _onnx(tmp_path / "two.onnx", [("a", [1, 3, 8, 8]), ("b", [1, 3, 8, 8])], [("y", [1, 3])])
    _error(cli("convert", m, "--labels", tmp_path / "labels.txt", "--data", data, "--norm", "unit"), "2 inputs")


def test_onnx_detection_like_two_outputs(tmp_path: Path, data: Path, cli: Cli) -> None:
    m = _onnx(tmp_path / "det.onnx", [("a", [1, 3, 8, 8])], [("boxes", [1, 3]), ("scores", [1, 3])])
    _error(cli("convert", m, "--labels", tmp_path / "labels.txt", "--data", data, "--norm", "unit"), "2 outputs")


def test_onnx_feature_map_output_is_not_a_classifier(tmp_path: Path, data: Path, cli: Cli) -> None:
    """(batch, classes, 1, 1) is a classifier (Caffe2's and MXNet's exports end so); (batch, C, 2, 2) is a map."""
    from edgevision.convert.frontends.onnx_src import inspect_onnx

    squeezed = _onnx(tmp_path / "caffe2.onnx", [("a", [1, 3, 8, 8])], [("y", [1, 3, 1, 1])])
    assert inspect_onnx(squeezed, None)["classes"] == 3
    m = _onnx(tmp_path / "seg.onnx", [("a", [1, 3, 8, 8])], [("y", [1, 3, 2, 2])])
    _error(cli("convert", m, "--labels", tmp_path / "labels.txt", "--data", data, "--norm", "unit"),
           "output shape [1, 3, 2, 2] is not (batch, classes)")


def test_onnx_non_image_input(tmp_path: Path, data: Path, cli: Cli) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    m = tmp_path / "tabular.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(m))
    _error(cli("convert", m, "--labels", tmp_path / "labels.txt", "--data", data, "--norm", "unit"), "not an image")


def test_onnx_dynamic_spatial_size_without_size(tmp_path: Path, data: Path, cli: Cli) -> None:
    m = _onnx(tmp_path / "dyn.onnx", [("a", [1, 3, "h", "w"])], [("y", [1, 3])])
    _error(cli("convert", m, "--labels", tmp_path / "labels.txt", "--data", data, "--norm", "unit"), "dynamic",
           "--size")


@pytest.fixture()
def keras_model(tmp_path: Path) -> Path:
    need(HAS_TF, "TensorFlow is not installed")
    import keras

    inp = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    m = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))
    m.save(tmp_path / "m.keras")
    return tmp_path / "m.keras"


def test_labels_count_mismatch(tmp_path: Path, data: Path, cli: Cli, keras_model: Path) -> None:
    (tmp_path / "four.txt").write_text("a\nb\nc\nd\ne\n")
    _error(cli("convert", keras_model, "--labels", tmp_path / "four.txt", "--data", data, "--norm", "unit"),
           "5 labels", "3 outputs")


def test_labels_with_background_line_refused_or_mapped(tmp_path: Path, data: Path, cli: Cli,
                                                       keras_model: Path) -> None:
    (tmp_path / "bg.txt").write_text("0 background\n1 a\n2 b\n3 c\n")  # Coral's layout: what it means is clear
    bg = cli("convert", keras_model, "--labels", tmp_path / "bg.txt", "--data", data, "--norm", "unit",
             "--quant", "float32", "--json", "--out", tmp_path / "bg")
    assert bg.returncode == 0, bg.stderr[-2000:]
    assert "background entry the model does not output" in json.loads(bg.stdout)["source"]["labels"]
    (tmp_path / "extra.txt").write_text("0 zebra\n1 a\n2 b\n3 c\n")  # an extra first label of another name
    _error(cli("convert", keras_model, "--labels", tmp_path / "extra.txt", "--data", data, "--norm", "unit"),
           "'zebra'", "--drop-first-label")
    ok = cli("convert", keras_model, "--labels", tmp_path / "extra.txt", "--data", data, "--norm", "unit",
             "--drop-first-label", "--quant", "float32", "--json", "--out", tmp_path / "mapped")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "dropped" in ok.stdout


def test_folder_class_not_in_labels(tmp_path: Path, data: Path, cli: Cli, keras_model: Path) -> None:
    (tmp_path / "other.txt").write_text("x\ny\nz\n")
    _error(cli("convert", keras_model, "--labels", tmp_path / "other.txt", "--data", data, "--norm", "unit"),
           "a, b, c", "not among the model's labels")


def test_normalization_must_be_declared(tmp_path: Path, data: Path, cli: Cli, keras_model: Path) -> None:
    _error(cli("convert", keras_model, "--labels", tmp_path / "labels.txt", "--data", data),
           "nothing declares the input normalization", "--preset")


def test_brought_model_needs_data(tmp_path: Path, cli: Cli, keras_model: Path) -> None:
    _error(cli("convert", keras_model, "--labels", tmp_path / "labels.txt"), "--data")
