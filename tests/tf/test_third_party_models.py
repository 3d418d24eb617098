"""Any classification .tflite, not only edgevision's: parity with pycoral's classify adapters.

The reference below re-implements what Coral's pycoral documents (adapters/classify.py
``get_scores`` / ``get_classes``, and the input scaling of its classify_image example:
``q = (x - mean) / (std * scale) + zero_point``, clipped and cast, skipped when
``|scale * std - 1| < 1e-5`` and ``|mean - zero_point| < 1e-5``). The PyPI package named
``pycoral`` is not Google's library, so the reference lives here, written from those docs.

The models are built like third-party ones: tiny Keras models converted with TensorFlow
(uint8, int8 and float inputs), with and without TFLite Metadata, with Coral-style indexed
label files and an unlisted background class at index 0.
"""

from __future__ import annotations

import operator
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HAS_TF, need

pytestmark = pytest.mark.tf

H, W, N = 24, 32, 6  # a non-square input; N real classes (+1 background in some models)
Class = namedtuple("Class", ["id", "score"])


# --- the pycoral reference ------------------------------------------------------------------------------------------

def pycoral_get_scores(interpreter) -> np.ndarray:  # type: ignore[no-untyped-def]
    d = interpreter.get_output_details()[0]
    out = interpreter.tensor(d["index"])().flatten()
    if np.issubdtype(d["dtype"], np.integer):
        scale, zero_point = d["quantization"]
        return scale * (out.astype(np.int64) - zero_point)
    return out


def pycoral_get_classes(interpreter, top_k: int = 10**9, score_threshold: float = -float("inf")) -> list[Class]:  # type: ignore[no-untyped-def]
    scores = pycoral_get_scores(interpreter)
    top_k = min(top_k, len(scores))
    classes = [Class(i, scores[i]) for i in np.argpartition(scores, -top_k)[-top_k:] if scores[i] >= score_threshold]
    return sorted(classes, key=operator.itemgetter(1), reverse=True)


def pycoral_set_input(interpreter, rgb: np.ndarray, mean: float, std: float) -> None:  # type: ignore[no-untyped-def]
    d = interpreter.get_input_details()[0]
    if np.issubdtype(d["dtype"], np.integer):
        scale, zero_point = d["quantization"]
        if abs(scale * std - 1) < 1e-5 and abs(mean - zero_point) < 1e-5:
            x = rgb
        else:
            info = np.iinfo(d["dtype"])
            x = (np.asarray(rgb) - mean) / (std * scale) + zero_point
            np.clip(x, info.min, info.max, out=x)
            # pycoral's astype(np.uint8) truncates, which on its non-negative uint8 range is a floor; pycoral
            # refuses int8 inputs, so for them the same floor is applied explicitly (astype would round toward 0)
            x = np.floor(x)
        interpreter.set_tensor(d["index"], x.astype(d["dtype"])[None])
    else:  # float model: the caller normalizes, as in pycoral's float examples
        interpreter.set_tensor(d["index"], ((rgb.astype(np.float32) - mean) / std)[None])


def pycoral_read_label_file(path: Path) -> dict[int, str]:
    lines = path.read_text().splitlines()
    ret = {}
    for row, content in enumerate(lines):
        pair = content.strip().split(maxsplit=1)
        if len(pair) == 2 and pair[0].strip().isdigit():
            ret[int(pair[0])] = pair[1].strip()
        else:
            ret[row] = content.strip()
    return ret


# --- third-party-style models ---------------------------------------------------------------------------------------

def _keras_model(outputs: int):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    tf.keras.utils.set_random_seed(7)
    inp = tf.keras.Input((H, W, 3))
    x = tf.keras.layers.Conv2D(12, 3, strides=2, activation="relu")(inp)
    x = tf.keras.layers.Conv2D(16, 3, activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(outputs, kernel_initializer=tf.keras.initializers.RandomNormal(stddev=1.5))(x)
    return tf.keras.Model(inp, tf.keras.layers.Softmax()(x))


def _convert(model, dtype: str) -> bytes:  # type: ignore[no-untyped-def]
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if dtype != "float32":
        rng = np.random.default_rng(0)

        def rep():  # type: ignore[no-untyped-def]
            for _ in range(16):
                x = rng.uniform(-1, 127 / 128, (1, H, W, 3)).astype(np.float32)
                x.flat[0], x.flat[1] = -1.0, 127 / 128  # range [-1, 127/128]: scale 1/128 like Coral's models
                yield [x]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = getattr(tf, dtype)
    return conv.convert()


def _with_metadata(data: bytes, labels: list[str]) -> bytes:
    from edgevision.model.labels import labels_text
    from edgevision.model.metadata import METADATA_NAME, ClassifierMetadata, build_metadata
    from edgevision.model.tflite_file import embed

    md = ClassifierMetadata(name="hosted-style", width=W, height=H, mean=(127.5,), std=(127.5,),
                            labels_file="labels.txt")
    return embed(data, {METADATA_NAME: build_metadata(md)}, {"labels.txt": labels_text(labels).encode()})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path | None]]:
    need(HAS_TF, "TensorFlow is not installed")
    d = tmp_path_factory.mktemp("third_party")
    names = [f"class_{i}" for i in range(N)]
    (d / "coral_labels.txt").write_text("".join(f"{i + 1}  {n}\n" for i, n in enumerate(names)))  # no "0 background"
    (d / "plain_labels.txt").write_text("".join(f"{n}\n" for n in names))                        # N lines, N+1 outputs
    (d / "flat_labels.txt").write_text("".join(f"{n}\n" for n in names))
    bg, flat = _keras_model(N + 1), _keras_model(N)
    out: dict[str, tuple[Path, Path | None]] = {}
    for dtype in ("uint8", "int8", "float32"):
        raw_bg, raw_flat = _convert(bg, dtype), _convert(flat, dtype)
        (d / f"{dtype}_bg.tflite").write_bytes(raw_bg)
        (d / f"{dtype}_meta.tflite").write_bytes(_with_metadata(raw_flat, names))
        out[f"{dtype}/coral-labels/background"] = (d / f"{dtype}_bg.tflite", d / "coral_labels.txt")
        out[f"{dtype}/plain-labels/background"] = (d / f"{dtype}_bg.tflite", d / "plain_labels.txt")
        out[f"{dtype}/metadata"] = (d / f"{dtype}_meta.tflite", None)
    return out


def _images(n: int = 24) -> list[np.ndarray]:
    from edgevision.demo.shapes import CLASSES, render

    rng = np.random.default_rng(5)
    import cv2

    # natural-ish content at exactly the input size, so no resize is involved on either side
    return [cv2.resize(render(CLASSES[i % len(CLASSES)], rng, size=48), (W, H), interpolation=cv2.INTER_AREA)
            for i in range(n)]


CASES = [f"{t}/{v}" for t in ("uint8", "int8", "float32")
         for v in ("coral-labels/background", "plain-labels/background", "metadata")]


@pytest.mark.parametrize("case", CASES)
def test_classifier_matches_pycoral(models, case: str) -> None:
    from edgevision.runtime.classifier import Classifier, ClassifierOptions
    from edgevision.runtime.interpreter import make_interpreter

    path, labels = models[case]
    float_no_md = case.startswith("float32") and "metadata" not in case
    clf = Classifier(path, labels, ClassifierOptions(top_k=5, normalization="symmetric" if float_no_md else None))
    ref, _ = make_interpreter(path.read_bytes(), 1)
    # the preprocessing pycoral's classify_image uses for these models: --input_mean/--input_std 128 for Coral-style
    # quantized models, the metadata's 127.5 for hosted-style ones, 127.5 for float (-1..1)
    mean = std = 127.5 if ("metadata" in case or case.startswith("float32")) else 128.0
    pc_labels = pycoral_read_label_file(labels) if labels is not None else None
    ties = 0
    for rgb in _images():
        pycoral_set_input(ref, rgb, mean, std)
        ref.invoke()
        want = pycoral_get_classes(ref, top_k=5)
        got = clf.classify(rgb)
        np.testing.assert_allclose([p.score for p in got], [c.score for c in want], rtol=0, atol=1e-6)
        np.testing.assert_allclose(clf.scores(rgb), pycoral_get_scores(ref), rtol=0, atol=1e-6)
        for g, w in zip(got, want, strict=True):
            if g.index != w.id:
                assert g.score == pytest.approx(float(w.score), abs=1e-9), (case, got, want)  # an exact tie
                ties += 1
            elif pc_labels is not None and "coral" in case:
                assert g.label == pc_labels.get(w.id, str(w.id))  # Coral label files: the same names
        if "plain-labels" in case:  # N names for N+1 outputs: output 0 is the unlisted background
            assert all((p.label == "background") == (p.index == 0) for p in got), got
        if "coral-labels" in case:  # "1  class_0" ... and no line for output 0, which keeps its index as its name
            assert pc_labels is not None and 0 not in pc_labels
            assert all(p.label == pc_labels.get(p.index, str(p.index)) for p in got), got
            assert all((p.label == "0") == (p.index == 0) for p in got), got
    assert ties < 24, "all ranks tied: the comparison would prove nothing"
    if "plain-labels" in case:
        assert clf.label_offset == 1 and clf.labels[0] == "class_0"   # output 1 is the first listed label
    if "coral-labels" in case:
        assert clf.label_offset == 0 and clf.labels[0] == "0" and clf.labels[1] == "class_0"
    if case in ("uint8/metadata", "int8/metadata"):
        assert clf.preprocessor.mode in ("raw", "shift")  # 127.5/127.5 metadata vs 1/128 quantization: raw pixels


def test_threshold_matches_pycoral(models) -> None:
    from edgevision.runtime.classifier import Classifier, ClassifierOptions
    from edgevision.runtime.interpreter import make_interpreter

    path, labels = models["uint8/coral-labels/background"]
    clf = Classifier(path, labels, ClassifierOptions(top_k=N + 1, threshold=0.1))
    ref, _ = make_interpreter(path.read_bytes(), 1)
    for rgb in _images(8):
        pycoral_set_input(ref, rgb, 128.0, 128.0)
        ref.invoke()
        want = pycoral_get_classes(ref, score_threshold=0.1)
        assert sorted(p.index for p in clf.classify(rgb)) == sorted(c.id for c in want)


def test_float_model_without_metadata_needs_a_normalization(models, cli) -> None:
    path, labels = models["float32/plain-labels/background"]
    r = cli("run", path, "--labels", labels, "--source", "nonexistent-but-checked-later.png", timeout=60)
    assert r.returncode == 2 and "error:" in r.stderr
    images = Path(path).parent / "imgs"
    images.mkdir(exist_ok=True)
    import cv2

    for i, rgb in enumerate(_images(3)):
        cv2.imwrite(str(images / f"{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    r = cli("run", path, "--labels", labels, "--source", images, timeout=60)
    assert r.returncode == 2 and "--norm" in r.stderr and "Traceback" not in r.stderr
    r = cli("run", path, "--labels", labels, "--source", images, "--norm", "symmetric", timeout=60)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3


# --- doctor's model-judged checks on a color-sensitive model -------------------------------------------------------

PROTOTYPES = {"orange": (0.95, 0.55, 0.1), "lime": (0.6, 0.9, 0.1), "red": (0.8, 0.1, 0.1)}


@pytest.fixture(scope="module")
def color_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Mean color -> RBF similarity to three prototypes. Input 0..1 (unit); far from every prototype = unsure."""
    need(HAS_TF, "TensorFlow is not installed")
    import tensorflow as tf

    protos = tf.constant(list(PROTOTYPES.values()), tf.float32)
    inp = tf.keras.Input((16, 16, 3))
    mean = tf.keras.layers.GlobalAveragePooling2D()(inp)
    logits = tf.keras.layers.Lambda(
        lambda m: 10.0 * tf.exp(-tf.reduce_sum(tf.square(m[:, None, :] - protos[None]), -1) / (2 * 0.15**2)))(mean)
    model = tf.keras.Model(inp, tf.keras.layers.Softmax()(logits))
    d = tmp_path_factory.mktemp("color")
    (d / "color.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    (d / "labels.txt").write_text("".join(f"{k}\n" for k in PROTOTYPES))
    return d / "color.tflite", d / "labels.txt"


def _color_frames(folder: Path, swap: bool) -> Path:
    import cv2

    folder.mkdir()
    rng = np.random.default_rng(1)
    for i, rgb in enumerate(PROTOTYPES.values()):
        for j in range(3):
            img = np.clip(np.array(rgb) * 255 + rng.normal(0, 8, (40, 60, 3)), 0, 255).astype(np.uint8)
            bgr = img if swap else img[..., ::-1]   # swap=True writes the channels the wrong way round
            cv2.imwrite(str(folder / f"{i}_{j}.png"), bgr)
    return folder


@pytest.mark.parametrize(("swap", "norm", "verdict"), [
    (False, "unit", {"color order": "pass"}),
    (True, "unit", {"color order": "fail"}),
    (False, "raw", {"normalization": "fail"}),
])
def test_doctor_flags_bgr_frames_and_wrong_normalization(cli, color_model, tmp_path: Path, swap: bool, norm: str,
                                                         verdict: dict[str, str]) -> None:
    import json

    model, labels = color_model
    frames = _color_frames(tmp_path / "frames", swap)
    r = cli("doctor", model, "--labels", labels, "--norm", norm, "--source", frames, "--json", timeout=120)
    rep = json.loads(r.stdout)
    statuses = {c["name"]: c for c in rep["checks"]}
    for name, status in verdict.items():
        assert statuses[name]["status"] == status, statuses[name]
    assert r.returncode == (1 if "fail" in verdict.values() else 0), r.stderr
    if swap:
        assert "BGR" in statuses["color order"]["detail"]
    if norm == "raw":
        assert "--norm unit" in statuses["normalization"]["detail"]
