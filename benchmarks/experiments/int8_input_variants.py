"""Where a brought MobileNet's int8 top-1 changes come from: one model, quantized each way, in one run.

    .venv-convert/bin/python benchmarks/experiments/int8_input_variants.py [--arch mobilenet_v2 ...] [--json FILE]

The fitted MobileNetV2 / MobileNetV3-Small of ``suites/conversion_matrix.py`` (the same seed, 160 px,
ImageNet mean/std, logits) is exported as a ``.pt2`` and brought in as ``edgevision convert`` brings it;
then int8 models are made from the same graph and the same 200 photos in several ways, and each one's
top-1 changes against the float32 TFLite are counted on those photos, every int8 model fed through the
device's own preprocessing (``Preprocessor``: it quantizes the input with the model's scale/zero point):

- ``naive``: plain ``TFLiteConverter`` full int8 on the original graph, normalized float input/output;
- ``converter float IO`` / ``converter uint8 IO``: ``TFLiteConverter`` on edgevision's graph (pixels in,
  the normalization inside, a softmax at the end), the input range as the calibrator recorded it;
- ``edgevision uint8`` / ``int8``: what the gate scores (``calibrate`` then ``quantize_int8``);
- ``per-tensor weights``: the same calibrated model quantized without per-channel weights;
- ``calibrated on the TF graph``: ``calibrate`` without the float32 TFLite (the converter's own pass);
- ``no softmax``: the graph without its appended softmax (argmax of the logits);
- ``sub/div normalization``: the normalization written as ``(x - mean) / std`` (int8 SUB and MUL),
  with the calibrated input range and with the pixel range.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

PHOTOS = REPO / "tests" / "fixtures" / "sign-digits" / "train"
ARCHS = ("mobilenet_v2", "mobilenet_v3_small")


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _device_top1(data: bytes, pixels: np.ndarray) -> tuple[np.ndarray, str]:
    """Top-1 of each resized photo, fed as the device feeds it; and the input's dtype/scale/zero point."""
    from edgevision.model.spec import PreprocessSpec
    from edgevision.runtime.interpreter import make_interpreter
    from edgevision.runtime.preprocess import InputQuant, Preprocessor

    interp, _ = make_interpreter(data, None, None, "variant")
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    dtype, (scale, zero) = np.dtype(i["dtype"]).name, i["quantization"]
    h, w = pixels.shape[1:3]
    pre = Preprocessor(PreprocessSpec(width=w, height=h), InputQuant(dtype, scale, zero)) \
        if dtype in ("uint8", "int8") else None
    out = []
    for img in pixels:
        interp.set_tensor(i["index"], pre.from_resized(img) if pre else img[None].astype(np.float32))
        interp.invoke()
        out.append(int(np.argmax(interp.get_tensor(o["index"]))))
    return np.asarray(out), f"{dtype} input" + (f", scale {scale:.4g}, zero point {zero}" if pre else "")


def _converter_int8(brought: Any, pixels: np.ndarray, io_type: str) -> bytes:
    import tensorflow as tf

    conv = brought.tflite_converter()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([pixels[i:i + 1].astype(np.float32)] for i in range(len(pixels)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io_type == "uint8":
        conv.inference_input_type = conv.inference_output_type = tf.uint8
    return bytes(_quiet(conv.convert))


def measure(arch: str, work: Path) -> list[dict[str, Any]]:
    import tensorflow as tf
    import torch
    from tensorflow.lite.python import convert as tf_convert

    from benchmarks.suites.conversion_matrix import torch_model
    from benchmarks.suites.naive_vs_edgevision import FITTED_SIZE, _naive_int8, _pixels, _run_tflite
    from edgevision.convert import quantize
    from edgevision.convert.frontends.declare import IMAGENET
    from edgevision.convert.frontends.frontend_base import BroughtModel
    from edgevision.convert.frontends.torch_src import load_pt2

    torch.manual_seed(0)  # conversion_matrix.py's model
    net, _, _ = torch_model(arch, FITTED_SIZE)
    pt2 = work / f"{arch}.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(1, 3, FITTED_SIZE, FITTED_SIZE),)), str(pt2))
    pixels = _pixels(sorted(str(f) for f in PHOTOS.rglob("*.JPG")), FITTED_SIZE)
    mean, std = (np.asarray(v, np.float32) for v in IMAGENET)
    normalized = (pixels.astype(np.float32) - mean) / std
    brought = _quiet(load_pt2, pt2)
    brought.mean, brought.std, brought.add_softmax = tuple(IMAGENET[0]), tuple(IMAGENET[1]), True
    graph = brought.keepalive[0]
    float32 = _quiet(quantize.convert_float, brought, "float32")
    reference, _ = _device_top1(float32, pixels)
    rows: list[dict[str, Any]] = []

    def record(variant: str, top1: np.ndarray, how: str = "float input") -> None:
        rows.append({"arch": arch, "variant": variant, "input": how, "images": len(top1),
                     "top1_changes_points": round(100 * float(np.mean(top1 != reference)), 1)})
        print(json.dumps(rows[-1]), flush=True)

    naive = _quiet(_naive_int8, lambda v: graph(v, training=False), normalized)
    record("naive (TFLiteConverter, original graph, float IO)", _run_tflite(naive, normalized).argmax(-1))
    for io_type in ("float", "uint8"):
        record(f"converter {io_type} IO (edgevision's graph)",
               *_device_top1(_converter_int8(brought, pixels, io_type), pixels))
    calibrated = _quiet(quantize.calibrate, brought, pixels, None, float32)
    for io_type in ("uint8", "int8"):
        record(f"edgevision {io_type} (what the gate scores)",
               *_device_top1(_quiet(quantize.quantize_int8, calibrated, io_type), pixels))
    per_tensor = _quiet(tf_convert.mlir_quantize, calibrated, disable_per_channel=True, input_data_type=tf.uint8,
                        output_data_type=tf.uint8)
    record("edgevision uint8, per-tensor weights", *_device_top1(per_tensor, pixels))
    on_graph = _quiet(quantize.calibrate, brought, pixels, None, None)
    record("edgevision uint8, calibrated on the TF graph",
           *_device_top1(_quiet(quantize.quantize_int8, on_graph, "uint8"), pixels))
    brought.add_softmax = False
    logits32 = _quiet(quantize.convert_float, brought, "float32")
    no_softmax = _quiet(quantize.calibrate, brought, pixels, None, logits32)
    record("edgevision uint8, no softmax", *_device_top1(_quiet(quantize.quantize_int8, no_softmax, "uint8"), pixels))
    brought.add_softmax = True

    fn = brought.tf_function
    subdiv = BroughtModel(kind=brought.kind, origin=brought.origin, height=brought.height, width=brought.width,
                          channels=brought.channels, classes=brought.classes, run_original=brought.run_original,
                          tf_function=lambda x: fn((x - tf.constant(mean)) / tf.constant(std)),
                          keepalive=brought.keepalive, add_softmax=True)  # mean 0, std 1: normalizes in fn
    sub32 = _quiet(quantize.convert_float, subdiv, "float32")
    recorded = _quiet(quantize.calibrate_tflite, sub32, pixels.astype(np.float32))
    record("sub/div normalization, calibrated input range",
           *_device_top1(_quiet(quantize.quantize_int8, recorded, "uint8"), pixels))
    record("sub/div normalization, pixel input range",
           *_device_top1(_quiet(quantize.quantize_int8, quantize.with_input_range(recorded, 0.0, 255.0), "uint8"),
                         pixels))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="+", choices=ARCHS, default=list(ARCHS))
    ap.add_argument("--json", type=Path, help="also write the rows to this file")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgevision-int8-variants-") as tmp:
        for arch in args.arch:
            rows += measure(arch, Path(tmp))
    print("\n| model | int8 model | input | top-1 changes vs float32 |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['arch']} | {r['variant']} | {r['input']} | {r['top1_changes_points']:.1f}% |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
