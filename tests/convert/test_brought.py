"""Bring your own model: third-party-style models built here, converted to int8 with the gate, run on the
device-only install, and checked against their original framework's top-1 on the shared dataset."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import HAS_TF, REPO, SIGN_DIGITS, Cli, need

pytestmark = pytest.mark.tf
MIN_AGREEMENT = 0.9   # int8 on the device vs the original framework, top-1, on 100 test photos


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.convert.brought import subset

    return subset(SIGN_DIGITS, tmp_path_factory.mktemp("digits"), {"train": 20, "test": 10})


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.fixture(scope="session")
def tm_model(digits: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    need(HAS_TF, "TensorFlow is not installed")
    need(_importable("tf_keras"), "tf_keras is not installed (pip install -e '.[keras2]')")
    from tests.convert.brought import teachable_machine

    return teachable_machine(digits, tmp_path_factory.mktemp("converted_keras"))


@pytest.fixture(scope="session")
def convert_cli() -> Cli:
    """edgevision in the converter venv (torch, onnx2tf), as `make test` builds it."""
    path = os.environ.get("EDGEVISION_CONVERT_PYTHON")
    need(bool(path) and Path(path or "").exists(), "no converter virtualenv (run `make .venv-convert/.installed`)")
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2", COLUMNS="200")
    return Cli(str(path), env)


@pytest.fixture(scope="session")
def torch_models(digits: Path, convert_cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("torch")
    proc = subprocess.run([convert_cli.python, "-m", "tests.convert.torch_models", str(digits), str(out)],
                          capture_output=True, text=True, cwd=REPO, env=convert_cli.env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _convert(cli: Cli, *args: str | Path) -> dict:
    proc = cli("convert", *args, "--max-drop", "5", "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _device_top1(device_python: str, model: Path, folder: Path) -> dict[str, str]:
    """Labels from `edgevision run` on the device-only install (no TensorFlow there)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([device_python, "-m", "edgevision", "run", str(model), "--source", str(folder),
                           "--no-realtime", "--quiet"], capture_output=True, text=True, timeout=300, env=env,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {e["source"]: e["label"] for e in events}


def _agreement(device: dict[str, str], original: dict[str, str]) -> float:
    assert set(device) == set(original), "device run and the original model saw different files"
    return sum(device[f] == original[f] for f in original) / len(original)


def _keras_top1(h5: Path, digits: Path, labels: tuple[str, ...]) -> dict[str, str]:
    from tests.convert.brought import keras_predict

    pred, files = keras_predict(h5, digits)
    return {f: labels[int(p)] for f, p in zip(files, pred, strict=True)}


def test_teachable_machine_keras2_h5(tm_model: tuple[Path, Path], digits: Path, cli: Cli, device_python: str) -> None:
    h5, labels = tm_model
    assert labels.read_text().startswith("0 0\n")  # Teachable Machine's "N name" lines
    import keras

    with pytest.raises(Exception):  # noqa: B017 - Keras 3 refuses Teachable Machine's file (any error will do)
        keras.models.load_model(h5, compile=False)
    report = _convert(cli, h5, "--labels", labels, "--data", digits, "--preset", "teachable-machine")
    src = report["source"]
    assert src["format"] == "keras2" and "tf_keras" in src["route"]
    assert src["preprocess"]["mean"] == [127.5] and src["preprocess"]["crop"].startswith("--preset")
    assert src["float_check"]["passed"] and src["float_check"]["top1_agreement"] == 1.0
    assert report["passed"] and "int8" in report["variants"]
    int8 = Path(report["variants"][report["quant"]]["path"])
    device = _device_top1(device_python, int8, digits / "test")
    names = tuple(str(i) for i in range(10))
    assert _agreement(device, _keras_top1(h5, digits, names)) >= MIN_AGREEMENT


def test_float_tflite_without_metadata(tm_model: tuple[Path, Path], digits: Path, cli: Cli, device_python: str,
                                       tmp_path: Path) -> None:
    from tests.convert.brought import float_tflite

    h5, labels = tm_model
    model = float_tflite(h5, tmp_path / "downloaded.tflite")
    bare = cli("convert", model, "--labels", labels, "--data", digits)
    assert bare.returncode == 2 and "nothing declares the input normalization" in bare.stderr
    report = _convert(cli, model, "--labels", labels, "--data", digits, "--norm", "symmetric", "--crop", "center")
    assert report["source"]["route"].startswith("the float .tflite itself")
    assert report["source"]["preprocess"]["applied"] == "on the device (spec)"
    int8 = Path(report["variants"][report["quant"]]["path"])
    device = _device_top1(device_python, int8, digits / "test")
    assert _agreement(device, _keras_top1(h5, digits, tuple(str(i) for i in range(10)))) >= MIN_AGREEMENT


def test_unlabelled_folder_gates_on_agreement(tm_model: tuple[Path, Path], digits: Path, cli: Cli,
                                              tmp_path: Path) -> None:
    from tests.convert.brought import float_tflite

    model = float_tflite(tm_model[0], tmp_path / "m.tflite")
    flat = tmp_path / "frames"
    flat.mkdir()
    for f in sorted(p for p in (digits / "test").rglob("*") if p.is_file()):
        (flat / f"{f.parent.name}_{f.name}").write_bytes(f.read_bytes())
    report = _convert(cli, model, "--data", flat, "--unlabelled", "--preset", "teachable-machine")
    assert report["source"]["gate"].startswith("int8 top-1 agreement") and report["gate"] == "agreement"
    assert report["variants"]["float32"]["accuracy"] == 1.0  # the float TFLite agrees with the original everywhere
    assert report["policy"]["max_disagreement"] == 2.0
    floor, st = report["noise_floor"], report["stability"]
    assert set(floor["per_view_points"]) == {"jpeg", "shift", "resize"}
    views = sorted(floor["per_view_points"].values())
    assert floor["floor_points"] == views[1]  # the median of the three benign changes
    assert sum(b["images"] for b in st["margin_bins"]) == report["images"] == floor["images"]
    assert 0 < st["top5_overlap"] <= 1 and st["kl_divergence"] >= 0
    assert report["passed"] == (st["disagreement_points"] <= st["floor_points"] + 2.0 + 1e-9)
    tight = cli("convert", model, "--data", flat, "--unlabelled", "--preset", "teachable-machine", "--max-drop", "0",
                "--no-repair", "--quant", "int8", "--out", tmp_path / "tight", "--json")
    r = json.loads(tight.stdout)
    over = r["stability"]["disagreement_points"] > r["noise_floor"]["floor_points"]
    assert tight.returncode == (1 if over else 0)  # budget 0: int8 may change no more top-1s than the floor
    if over:
        assert "noise floor" in tight.stderr or "should not matter" in tight.stderr


def _torch_top1(models: Path, labels: Path) -> dict[str, str]:
    names = labels.read_text().split()
    return {f: names[i] for f, i in json.loads((models / "torch_top1.json").read_text()).items()}


@pytest.mark.parametrize("name", ["net.onnx", "net.pt2"])
def test_pytorch_via_onnx_and_pt2(name: str, torch_models: Path, digits: Path, convert_cli: Cli,
                                  device_python: str, tmp_path: Path) -> None:
    labels = torch_models / "labels.txt"
    report = _convert(convert_cli, torch_models / name, "--labels", labels, "--data", digits, "--norm", "imagenet",
                      "--crop", "center", "--out", tmp_path / "out", "--quant", "int8")
    src = report["source"]
    assert src["outputs"] == "logits" and src["softmax_added"]  # PyTorch ends in logits: a softmax was added
    assert "onnx2tf" in src["route"] and "NCHW -> NHWC" in src["route"]
    assert src["float_check"]["max_abs_score_diff"] < 1e-3
    int8 = Path(report["variants"][report["quant"]]["path"])
    device = _device_top1(device_python, int8, digits / "test")
    assert _agreement(device, _torch_top1(torch_models, labels)) >= MIN_AGREEMENT


def test_onnx_dynamic_size_needs_size(torch_models: Path, digits: Path, convert_cli: Cli) -> None:
    proc = convert_cli("convert", torch_models / "net_dynamic.onnx", "--labels", torch_models / "labels.txt",
                       "--data", digits, "--norm", "imagenet")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error:") and "--size" in proc.stderr


def test_savedmodel_directory(tm_model: tuple[Path, Path], digits: Path, cli: Cli, tmp_path: Path) -> None:
    import tensorflow as tf
    import tf_keras as k

    h5, labels = tm_model
    sm = tmp_path / "saved"
    tf.saved_model.save(k.models.load_model(h5, compile=False), str(sm))
    report = _convert(cli, sm, "--labels", labels, "--data", digits, "--preset", "teachable-machine", "--quant",
                      "int8", "--no-repair")
    assert report["source"]["format"] == "savedmodel" and report["source"]["float_check"]["top1_agreement"] == 1.0
    assert report["variants"]["int8"]["agreement"] >= MIN_AGREEMENT


API_SCRIPT = """
import json, sys, torch
from pathlib import Path
from edgevision.convert.conversion import ConvertOptions
from edgevision.convert.frontends.bring import BringOptions, convert_brought
from edgevision.convert.frontends.declare import Declared
from edgevision.convert.frontends.torch_src import from_module

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(8, 10))
model = from_module(net, torch.zeros(1, 3, 32, 32), origin="net")
report = convert_brought(model, BringOptions(data=Path(sys.argv[1]), unlabelled=True, declared=Declared(norm="unit")),
                         ConvertOptions(quant="int8", out=Path(sys.argv[2]), latency_runs=3, max_drop=100))
print(json.dumps(report["source"]))
"""


@pytest.mark.slow
def test_python_api_nn_module(digits: Path, convert_cli: Cli, tmp_path: Path) -> None:
    proc = subprocess.run([convert_cli.python, "-c", API_SCRIPT, str(digits / "test"), str(tmp_path / "out")],
                          capture_output=True, text=True, env=convert_cli.env, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    src = json.loads(proc.stdout.strip().splitlines()[-1])
    assert src["format"] == "pytorch" and src["softmax_added"] and src["float_check"]["passed"]
    assert list((tmp_path / "out").glob("*_int8.tflite"))


@pytest.mark.parametrize("name", ["same_pad_ts11", "same_pad_ts17", "same_pad_dynamo18"])
def test_onnx_as_exporters_write_it_converts(name: str, torch_models: Path, digits: Path, convert_cli: Cli,
                                             tmp_path: Path) -> None:
    """EfficientNet ports compute "same" padding from the input size; the TorchScript exporter writes that as
    Shape/Gather/Pad arithmetic that onnx2tf alone mis-shapes (an Add of mismatched tensors). The route
    simplifies the graph first, and the float32 TFLite must still equal onnxruntime."""
    report = _convert(convert_cli, torch_models / f"{name}.onnx", "--labels", torch_models / "labels.txt",
                      "--data", digits, "--norm", "imagenet", "--crop", "center", "--out", tmp_path / "out",
                      "--quant", "int8", "--max-drop", "100")
    src = report["source"]
    assert src["route"].startswith("onnxslim + onnx2tf") and src["float_check"]["passed"]
    assert src["float_check"]["top1_agreement"] == 1.0 and src["float_check"]["max_abs_score_diff"] < 1e-3


ONNX2TF_ALONE = """
import sys, tempfile
from pathlib import Path
import onnx2tf
from edgevision.convert.frontends.onnx_src import Attempt, _run_onnx2tf, _samples_file
with tempfile.TemporaryDirectory() as tmp:
    _samples_file(Path(tmp), None)
    model, error = _run_onnx2tf(onnx2tf, Path(sys.argv[1]), Path(tmp), "input:1,3,48,48", Attempt("onnx2tf", False))
print(error if model is None else "converted")
"""


def test_onnx2tf_alone_fails_on_the_torchscript_padding_and_names_the_node(torch_models: Path,
                                                                          convert_cli: Cli) -> None:
    proc = subprocess.run([convert_cli.python, "-c", ONNX2TF_ALONE, str(torch_models / "same_pad_ts17.onnx")],
                          capture_output=True, text=True, cwd=REPO, env=convert_cli.env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("node '/") and "(Add)" in line and "Dimensions must be equal" in line, line


def test_an_op_no_converter_knows_is_one_error_line_naming_node_and_op(torch_models: Path, digits: Path,
                                                                     convert_cli: Cli, tmp_path: Path) -> None:
    proc = convert_cli("convert", torch_models / "bias_gelu.onnx", "--labels", torch_models / "labels.txt",
                       "--data", digits, "--norm", "imagenet", "--out", tmp_path / "out")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]  # TensorFlow's C++ start-up
    assert proc.returncode == 2 and len(errors) == 1 and proc.stderr.rstrip().endswith(errors[0]), proc.stderr
    assert "Traceback" not in proc.stderr                                            # lines may come before it
    assert "node 'head_gelu' (BiasGelu)" in proc.stderr and "no converter for the op BiasGelu" in proc.stderr
    assert "tried onnxslim + onnx2tf" in proc.stderr or "tried onnx2tf" in proc.stderr


def test_a_padded_max_pool_quantizes_to_a_model_the_interpreter_runs(torch_models: Path, digits: Path,
                                                                      convert_cli: Cli, device_python: str,
                                                                      tmp_path: Path) -> None:
    """ResNet's stem max-pool: onnx2tf pads it with -FLT_MAX, which the int8 quantizer made into a PADV2 the
    interpreter aborted on (the whole process died). The route pads it explicitly first."""
    report = _convert(convert_cli, torch_models / "maxpool_stem.onnx", "--labels", torch_models / "labels.txt",
                      "--data", digits, "--norm", "imagenet", "--crop", "center", "--out", tmp_path / "out",
                      "--quant", "int8", "--max-drop", "100")
    assert report["source"]["float_check"]["passed"]
    int8 = Path(report["variants"][report["quant"]]["path"])
    assert _device_top1(device_python, int8, digits / "test")  # and the device runs it


def _tflite_ops(path: Path) -> set[str]:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    return {op["op_name"] for op in interpreter._get_ops_details()}


def test_exact_gelu_converts_to_the_tflite_gelu_with_float_parity(torch_models: Path, digits: Path,
                                                                  convert_cli: Cli, tmp_path: Path) -> None:
    """nn.GELU() as the TorchScript exporter writes it (Div, Erf, Add, Mul, Mul) stopped the TFLite converter at
    tf.Erf; reordered, it becomes TFLite's exact GELU builtin and matches onnxruntime."""
    report = _convert(convert_cli, torch_models / "gelu_head.onnx", "--labels", torch_models / "labels.txt",
                      "--data", digits, "--norm", "imagenet", "--crop", "center", "--out", tmp_path / "out",
                      "--quant", "float32")
    src = report["source"]
    assert "gelu x1" in src["route"] and src["float_check"]["passed"], src
    assert src["float_check"]["top1_agreement"] == 1.0 and src["float_check"]["max_abs_score_diff"] < 1e-4
    (tflite,) = (tmp_path / "out").glob("*_float32.tflite")
    assert "GELU" in _tflite_ops(tflite)


@pytest.mark.slow
def test_classic_model_zoo_graph_converts_with_float_parity(torch_models: Path, digits: Path, convert_cli: Cli,
                                                            tmp_path: Path) -> None:
    """The ONNX Model Zoo's SqueezeNet (opset 9, converted from Caffe2: Dropout with a mask output, a 1x1
    convolution head, a (1, 1000, 1, 1) softmax output) converts label-free and matches onnxruntime."""
    from benchmarks.lib.onnx_zoo import CAFFE_NORM

    proc = convert_cli("convert", torch_models / "zoo_squeezenet.onnx", "--data", digits / "train", "--unlabelled",
                       "--norm", CAFFE_NORM, "--crop", "center", "--out", tmp_path / "out", "--quant", "int8",
                       "--no-repair", "--json", timeout=900)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: int8 of random weights may fail the gate
    report = json.loads(proc.stdout)
    src = report["source"]
    assert src["outputs"] == "probabilities" and not src["softmax_added"]
    assert src["float_check"]["top1_agreement"] == 1.0 and src["float_check"]["max_abs_score_diff"] < 1e-3, src
    assert report["quant"] == "int8", report["quant"]  # every op quantized (no float fallback)


def test_int8_with_a_float_op_is_still_gated(torch_models: Path, digits: Path, convert_cli: Cli,
                                             tmp_path: Path) -> None:
    """LRN has no int8 kernel, so the int8 model keeps it in float and is named int8-mixed; it must be judged like
    any int8 model (it once skipped the gate: 'float32 only: nothing quantized to judge', passed)."""
    proc = convert_cli("convert", torch_models / "lrn_net.onnx", "--labels", torch_models / "labels.txt", "--data",
                       digits, "--unlabelled", "--norm", "imagenet", "--crop", "center", "--out", tmp_path / "out",
                       "--quant", "int8", "--no-repair", "--max-drop", "0", "--json", timeout=900)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["quant"] == "int8-mixed" and report["source"]["float_check"]["passed"]
    st = report["stability"]
    assert st and "float32 only" not in report["verdict"], report["verdict"]
    assert report["passed"] == (st["disagreement_points"] <= st["floor_points"] + 1e-9) == (proc.returncode == 0)


def test_tf2onnx_nhwc_export_converts_with_float_parity(torch_models: Path, digits: Path, convert_cli: Cli,
                                                        tmp_path: Path) -> None:
    """tf2onnx keeps Keras' NHWC input (onnx2tf takes every 4-D input for NCHW unless told) and names its output
    'Identity:0'."""
    model = torch_models / "keras_nhwc.onnx"
    need(model.exists(), "tf2onnx is not installed in the converter virtualenv (pip install -e '.[zoo]')")
    report = _convert(convert_cli, model, "--labels", torch_models / "labels.txt", "--data", digits, "--norm", "unit",
                      "--out", tmp_path / "out", "--quant", "float32")
    src = report["source"]
    assert "NHWC -> NHWC" in src["route"] and src["outputs"] == "probabilities", src
    assert src["float_check"]["top1_agreement"] == 1.0 and src["float_check"]["max_abs_score_diff"] < 1e-4
