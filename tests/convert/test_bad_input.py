"""Bad input to the converter: one clear line naming the culprit, exit 2, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.tf


def _copy(trained, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained.run, tmp_path / "run", ignore=shutil.ignore_patterns("export")))


def _fails_cleanly(out, *needles: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, out.stderr[-2000:]
    for n in needles:
        assert n in errors[0], errors[0]


@pytest.mark.parametrize(("content", "needle"), [
    (b"PK\x03\x04 definitely not a keras archive", "cannot load Keras model"),
    (b"", "Keras model file is empty"),
])
def test_corrupt_keras_file(cli, trained, tmp_path: Path, content: bytes, needle: str) -> None:
    run = _copy(trained, tmp_path)
    (run / "model.keras").write_bytes(content)
    _fails_cleanly(cli("convert", run), "model.keras", needle)


def test_truncated_keras_file(cli, trained, tmp_path: Path) -> None:
    run = _copy(trained, tmp_path)
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])
    _fails_cleanly(cli("convert", run), "model.keras", "cannot load Keras model")


def test_corrupt_savedmodel_in_place_of_the_model(cli, trained, tmp_path: Path) -> None:
    run = _copy(trained, tmp_path)
    (run / "model.keras").unlink()
    (run / "model.keras").mkdir()
    (run / "model.keras" / "saved_model.pb").write_bytes(b"\x08\x01garbage")
    _fails_cleanly(cli("convert", run), "SavedModel directory", "expected a Keras .keras file")


def test_empty_calibration_set(cli, trained, tmp_path: Path) -> None:
    run = _copy(trained, tmp_path)
    ds = json.loads((run / "dataset.json").read_text())
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    ds["train"] = [[str(broken), 0]]
    (run / "dataset.json").write_text(json.dumps(ds))
    _fails_cleanly(cli("convert", run), "calibration set is empty", "could be read")
    ds["train"] = []
    (run / "dataset.json").write_text(json.dumps(ds))
    _fails_cleanly(cli("convert", run), "calibration set is empty: the run has no training images")


def test_labels_of_the_wrong_length(cli, trained, tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    _fails_cleanly(cli("convert", trained.run, "--labels", labels), "labels.txt", "2 labels do not match")


def test_model_with_dynamic_shapes(cli, trained, tmp_path: Path) -> None:
    import keras

    run = _copy(trained, tmp_path)
    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(len((run / "labels.txt").read_text().split()), activation="softmax")(x)
    keras.Model(inp, out).save(run / "model.keras")
    _fails_cleanly(cli("convert", run), "model.keras", "is dynamic", "fixed height, width")


@pytest.mark.parametrize(("args", "needle"), [
    (["--quant", "int4"], "--quant int4: choose one of"),
    (["--io", "int16"], "--io int16: choose one of uint8, int8"),
    (["--target", "hexagon"], "--target hexagon: choose one of edgetpu"),
    (["--calibration-size", "0"], "--calibration-size 0: must be at least 1"),
    (["--policy", "no-such-policy"], "policy 'no-such-policy' not found"),
    (["--max-drop", "-1"], "must be >= 0"),
    (["--quant", "float16", "--target", "edgetpu"], "--target edgetpu needs an int8 model"),
])
def test_bad_options(cli, trained, args: list[str], needle: str) -> None:
    _fails_cleanly(cli("convert", trained.run, *args), needle)


def test_a_brought_graph_that_fails_to_trace_is_one_error_line() -> None:
    """Tracing a brought graph raises Keras' and TensorFlow's own exception types (a layout the converter got
    wrong, a shape it cannot infer): the message's first line, as BadInput, not a traceback."""
    from edgevision.convert.quantize import convert_float
    from edgevision.errors import BadInput

    class Untraceable:
        def tflite_converter(self) -> None:
            raise ValueError("Exception encountered when calling layer 'add' (type Add).\n"
                             "Dimensions must be equal, but are 56 and 64\n" + "mlir dump\n" * 1000)

    reason = r"^TFLite conversion \(tracing the model\) failed: Dimensions must be equal, but are 56 and 64$"
    with pytest.raises(BadInput, match=reason) as e:
        convert_float(Untraceable(), "float16")
    assert "\n" not in str(e.value)
