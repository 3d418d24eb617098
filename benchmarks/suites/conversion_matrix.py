"""The conversion matrix: architectures × ONNX exporters × opsets through ``edgevision convert``, in one run.

For each architecture (``benchmarks/lib/torch_zoo.py``: EfficientNet-Lite0 with its published ImageNet weights,
MobileNetV2, MobileNetV3-Small, ResNet-18/50 and a small ViT made into classifiers on photos) and
each way users make ONNX files — torch's TorchScript exporter at opsets 11/13/17, its dynamo
exporter (opset 18), ``torch.export`` ``.pt2`` — plus Keras models through tf2onnx and Keras' own
``export(format="onnx")`` — and the classic ONNX Model Zoo graphs the ``onnx`` wheel ships
(``benchmarks/lib/onnx_zoo.py``: opset 9, converted from Caffe2, their weights made here and their head
fitted to the photos), it runs the whole label-free conversion (onnx2tf route with its
fallbacks, float check, int8, the noise-floor gate) on unlabelled photos (the 100 test photos for
the ImageNet model; the 200 photos a fitted head was fitted on for the others) and records: converted
or the one error line, the route taken, float parity (top-1 agreement and largest score
difference float32 TFLite vs the original), int8 top-1 changes, the float model's noise floor,
the gate's verdict and the seconds it took. Nothing is downloaded.

    .venv-convert/bin/python benchmarks/suites/conversion_matrix.py [--quick] [--json FILE]
    .venv-convert/bin/python benchmarks/suites/conversion_matrix.py --archs zoo [--zoo squeezenet resnet50]
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
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

PHOTOS = REPO / "tests" / "fixtures" / "sign-digits"
TORCH_EXPORTERS = ("torchscript-11", "torchscript-13", "torchscript-17", "dynamo-18", "pt2")
KERAS_EXPORTERS = ("tf2onnx-13", "tf2onnx-17", "keras-export")
EFFNET = "efficientnet_lite0"


def _load(split: str, size: int, mean: tuple[float, ...],
          std: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Photos of a split, centre-cropped and resized as the device does, normalized, NCHW; labels; files."""
    from edgevision.data.loader import load_pixels
    from edgevision.model.spec import PreprocessSpec

    spec = PreprocessSpec(width=size, height=size, crop="center")
    xs, ys, files = [], [], []
    for label, cdir in enumerate(sorted(p for p in (PHOTOS / split).iterdir() if p.is_dir())):
        for f in sorted(cdir.iterdir()):
            img, ok = load_pixels(str(f), spec)
            if ok:
                xs.append(img)
                ys.append(label)
                files.append(str(f))
    x = (np.stack(xs).astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), np.asarray(ys), files


def torch_model(arch: str, size: int) -> tuple[Any, int, str]:
    """(model in eval mode, classes, --norm) for an architecture."""
    from benchmarks.lib import torch_zoo

    if arch == EFFNET:
        return torch_zoo.efficientnet_lite0().eval(), 1000, "symmetric"
    from edgevision.convert.frontends.declare import IMAGENET

    x, y, _ = _load("train", size, *IMAGENET)
    model = torch_zoo.make_classifier(torch_zoo.BUILDERS[arch](10, size), x, y, 10)
    return model.eval(), 10, "imagenet"


def _export_torch(model: Any, size: int, exporter: str, out: Path) -> Path:
    import torch

    example = torch.zeros(1, 3, size, size)
    if exporter == "pt2":
        path = out.with_suffix(".pt2")
        torch.export.save(torch.export.export(model, (example,)), str(path))
        return path
    path = out.with_suffix(".onnx")
    kind, opset = exporter.rsplit("-", 1)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["logits"],
                          opset_version=int(opset), dynamo=kind == "dynamo")
    return path


def _keras_model(size: int) -> Any:
    """Keras MobileNetV2 (alpha 0.5, random convolutions) whose head is fitted on the photos (10 classes)."""
    import keras

    keras.utils.set_random_seed(0)
    from benchmarks.lib import torch_zoo

    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.5, include_top=False, weights=None,
                                          pooling="avg")
    inp = keras.Input((size, size, 3), name="image")
    feats = base(keras.layers.Rescaling(1 / 127.5, -1.0)(inp))
    head = keras.layers.Dense(10, name="logits")
    model = keras.Model(inp, keras.layers.Softmax()(head(feats)))
    x, y, _ = _load("train", size, (0.0,), (1.0,))
    scaled = x.transpose(0, 2, 3, 1) / 127.5 - 1.0
    for layer in base.layers:  # smooth random kernels and batch-norm statistics from the photos, as in torch_zoo
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D) and layer.kernel.shape[0] > 1:
            k = np.asarray(layer.kernel)
            layer.kernel.assign(np.broadcast_to(k.mean((0, 1), keepdims=True), k.shape) + torch_zoo.SMOOTH * k)
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    base(scaled[:128], training=True)
    f = np.asarray(base(scaled)).astype(np.float64)
    f = np.concatenate([f, np.ones((len(f), 1))], 1)
    target = -np.ones((len(f), 10))
    target[np.arange(len(f)), y] = 1
    ridge = torch_zoo.RIDGE * np.eye(f.shape[1]) * np.mean(f ** 2) * len(f)
    w = np.linalg.solve(f.T @ f + ridge, f.T @ target) * 4.0
    head.set_weights([w[:-1].astype(np.float32), w[-1].astype(np.float32)])
    return model


def _export_keras(model: Any, size: int, exporter: str, out: Path) -> Path:
    import tensorflow as tf

    path = out.with_suffix(".onnx")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if exporter == "keras-export":
            model(np.zeros((1, size, size, 3), np.float32))  # Keras exports only a model that has been called
            model.export(str(path), format="onnx", verbose=False)
        else:
            import tf2onnx

            spec = (tf.TensorSpec((1, size, size, 3), tf.float32, name="image"),)
            fn = tf.function(lambda x: model(x, training=False))
            tf2onnx.convert.from_function(fn, input_signature=spec, opset=int(exporter.split("-")[1]),
                                          output_path=str(path))
    return path


def _convert(path: Path, photos: Path, norm: str, out: Path) -> dict[str, Any]:
    from rich.console import Console

    from edgevision.convert.conversion import ConvertOptions
    from edgevision.convert.frontends.bring import BringOptions, convert_brought
    from edgevision.convert.frontends.declare import Declared
    from edgevision.errors import EdgevisionError

    quiet = Console(file=io.StringIO())
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = convert_brought(path, BringOptions(data=photos, unlabelled=True, declared=Declared(norm=norm,
                                                                                                crop="center")),
                                ConvertOptions(quant="int8", latency_runs=3, out=out, repair=False), quiet)
    except EdgevisionError as exc:
        return {"converts": False, "error": str(exc).splitlines()[0][:240], "seconds": time.perf_counter() - t0}
    fc, st = r["source"]["float_check"], r["stability"]
    if not st:  # int8-mixed (an op with no int8 kernel, e.g. LRN, stays float): the report has no stability block
        variant = r["variants"][r["quant"]]
        st = {"disagreement_points": 100.0 * (1.0 - variant["agreement"]), "top5_overlap": None, "damage": "-",
              "floor_points": r["noise_floor"].get("floor_points", 0.0)}
    return {"converts": True, "route": r["source"]["route"], "quant": r["quant"], "float_top1": fc["top1_agreement"],
            "float_max_diff": fc["max_abs_score_diff"], "int8_changes": st["disagreement_points"],
            "floor": st["floor_points"], "top5": st["top5_overlap"], "damage": st["damage"],
            "gate": "pass" if r["passed"] else "FAIL",
            "images": r["images"], "seconds": time.perf_counter() - t0}


def zoo_rows(names: list[str], folder: Path, work: Path) -> list[dict[str, Any]]:
    """The light ONNX Model Zoo graphs, weights materialized and head fitted on the photos they are gated on."""
    from benchmarks.lib import onnx_zoo

    x, y, _ = _load("train", 224, onnx_zoo.CAFFE_MEAN, (1.0,))
    rows = []
    for name in names:
        row: dict[str, Any] = {"arch": f"zoo {name}", "weights": "fitted", "exporter": "onnx-caffe2 (opset 9)",
                               "size": 224, "classes": 1000}
        path = onnx_zoo.light_model(name, work / f"zoo_{name}.onnx", x, y)
        row.update(_convert(path, folder, onnx_zoo.CAFFE_NORM, work / f"out_zoo_{name}"))
        rows.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(work / f"out_zoo_{name}", ignore_errors=True)
        path.unlink()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=160, help="input size of the models without published weights")
    ap.add_argument("--quick", action="store_true", help="two architectures, two exporters (a smoke run)")
    ap.add_argument("--json", type=Path, help="also write the rows to this file")
    ap.add_argument("--archs", nargs="+", help="only these architectures (default: all, and the Keras exporters)")
    ap.add_argument("--exporters", nargs="+", choices=TORCH_EXPORTERS, help="only these torch exporters")
    ap.add_argument("--zoo", nargs="+", help="only these light ONNX Model Zoo graphs (with --archs zoo)")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import torch

    from benchmarks.lib.onnx_zoo import LIGHT

    archs = [EFFNET, "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50", "vit_tiny4"]
    exporters = list(TORCH_EXPORTERS)
    keras_exporters = list(KERAS_EXPORTERS)
    zoo = [n for n in LIGHT if n in args.zoo] if args.zoo else list(LIGHT)
    if args.quick:
        archs, exporters, keras_exporters, zoo = ["mobilenet_v3_small", "resnet18"], ["torchscript-13", "pt2"], [], []
    if args.exporters:
        exporters = [e for e in exporters if e in args.exporters]
    if args.archs:
        archs, keras_exporters = [a for a in archs if a in args.archs], keras_exporters if "keras" in args.archs else []
        zoo = zoo if "zoo" in args.archs else []
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgevision-matrix-") as tmp:
        work = Path(tmp)
        folders = {}
        for split in ("test", "train"):  # unlabelled photos, flat
            folders[split] = work / f"photos_{split}"
            folders[split].mkdir()
            for f in sorted((PHOTOS / split).rglob("*.JPG")):
                shutil.copy(f, folders[split] / f"{f.parent.name}_{f.name}")
        for arch in archs:
            size = 224 if arch == EFFNET else args.size
            # ImageNet weights meet unseen hand photos; a fitted head is judged on the photos it was fitted to,
            # where it is as sure of itself as a trained model is on its own domain
            photos = folders["test" if arch == EFFNET else "train"]
            torch.manual_seed(0)  # each architecture's random convolutions the same whichever others run
            model, classes, norm = torch_model(arch, size)
            for exporter in exporters:
                row: dict[str, Any] = {"arch": arch, "weights": "ImageNet (PyPI)" if arch == EFFNET else "fitted",
                                       "exporter": exporter, "size": size, "classes": classes}
                try:
                    path = _export_torch(model, size, exporter, work / f"{arch}_{exporter}")
                except Exception as exc:  # noqa: BLE001 - an exporter refusing the model is a result too
                    row.update(converts=False, error=f"export failed: {str(exc).splitlines()[0][:200]}")
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    continue
                row.update(_convert(path, photos, norm, work / f"out_{arch}_{exporter}"))
                rows.append(row)
                print(json.dumps(row), flush=True)
                shutil.rmtree(work / f"out_{arch}_{exporter}", ignore_errors=True)
        if keras_exporters:
            kmodel = _keras_model(args.size)
            for exporter in keras_exporters:
                row = {"arch": "keras_mobilenet_v2_0.5", "weights": "fitted", "exporter": exporter,
                       "size": args.size, "classes": 10}
                try:
                    path = _export_keras(kmodel, args.size, exporter, work / f"keras_{exporter}")
                except Exception as exc:  # noqa: BLE001
                    row.update(converts=False, error=f"export failed: {str(exc).splitlines()[0][:200]}")
                else:
                    row.update(_convert(path, folders["train"], "raw", work / f"out_keras_{exporter}"))
                rows.append(row)
                print(json.dumps(row), flush=True)
        rows += zoo_rows(zoo, folders["train"], work)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def print_table(rows: list[dict[str, Any]]) -> None:
    """The matrix as a Markdown table (what the docs show)."""
    print("\n| architecture | weights | exporter | converts | float top-1 / max diff | int8 top-1 changes | "
          "noise floor | sure photos changed | gate | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.get("converts"):
            quant = "" if r.get("quant", "int8") == "int8" else f", {r['quant']}"
            print(f"| {r['arch']} | {r['weights']} | {r['exporter']} | yes ({r['route'].split(' (')[0]}{quant}) | "
                  f"{r['float_top1']:.3f} / {r['float_max_diff']:.1e} | {r['int8_changes']:.1f}% | "
                  f"{r['floor']:.1f}% | {r['damage']} | {r['gate']} | {r['seconds']:.0f} |")
        else:
            print(f"| {r['arch']} | {r['weights']} | {r['exporter']} | no: {r.get('error', '')} | | | | | | "
                  f"{r.get('seconds', 0):.0f} |")
    ok = sum(1 for r in rows if r.get("converts"))
    passed = sum(1 for r in rows if r.get("gate") == "pass")
    print(f"\n{ok} of {len(rows)} files converted, {passed} passed the int8 gate")


if __name__ == "__main__":
    main()
