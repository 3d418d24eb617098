"""[TF] ``edgevision convert RUN --target imx500``: packerOut.zip for the Raspberry Pi AI Camera, gated.

The flow Sony documents, with edgevision's guarantees around it: the IMX500 refuses
``Rescaling``, and ``imx500-package`` takes no input normalization (it writes an identity one
into the .rpk), so the input normalization becomes a 1x1 DepthwiseConv2D at the network's
head: the sensor feeds raw 0..255 pixels, the network normalizes them on the sensor, and the
card records both (what the sensor must pass through, checked on the Pi by doctor and at
install). Model Compression Toolkit quantizes with the
stratified calibration set and the IMX500 target platform capabilities; ``imxconv-tf``
writes packerOut.zip and its memory report; the MCT-quantized model is scored on the
held-out images (device resize, raw pixels into that first layer) against the float model,
with the policy's budget and exit codes. The toolchain runs in its own venv (toolchain.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from edgevision.convert.calibration import load_calibration
from edgevision.convert.imx500.toolchain import (
    find_toolchain,
    job_for,
    run_worker,
    summarize_memory,
    tensor_quantization,
    write_arrays,
)
from edgevision.convert.policy import Policy
from edgevision.errors import BadInput
from edgevision.metrics import classification_report
from edgevision.model.labels import labels_sha256, write_labels
from edgevision.model.spec import PreprocessSpec
from edgevision.train.rundir import RunDir, load_run
from edgevision.version import __version__

PACKER_FILE = "packerOut.zip"
CARD_FILE = "imx500.json"
LABELS_FILE = "labels.txt"
REPORT_FILE = "convert_report.json"
PROBES = 4
SENSOR_MEMORY_BYTES = 8 * 2**20  # "Total Memory Available On Chip" in imxconv's memory report
MAX_CONFUSION_CLASSES = 100


def sensor_normalization(spec: PreprocessSpec, graph_mean: tuple[float, ...],
                         graph_std: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The one (mean, std) on 0..255 pixels the network's first layer applies on the sensor: the spec's,
    then the normalization taken out of the graph."""
    m1, s1 = np.asarray(spec.mean, np.float64), np.asarray(spec.std, np.float64)
    m2, s2 = np.asarray(graph_mean, np.float64), np.asarray(graph_std, np.float64)
    mean, std = m1 + m2 * s1, s1 * s2
    return (tuple(round(float(v), 6) + 0.0 for v in np.atleast_1d(mean)),
            tuple(round(float(v), 6) for v in np.atleast_1d(std)))


# what imx500-package writes into network_info.txt for a custom network, and what raw-pixel networks need
IDENTITY_NETWORK_INFO = {"inputTensorFormat": "RGB", "inputTensorNorm_K00": "0x0400", "inputTensorNorm_K11": "0x0400",
                         "inputTensorNorm_K22": "0x0400", "inputTensorNorm_K03": "0x0000",
                         "inputTensorNorm_K13": "0x0000", "inputTensorNorm_K23": "0x0000"}


def sensor_input(mean: tuple[float, ...], std: tuple[float, ...], removed: tuple[str, ...], layer: str | None,
                 quant: dict[str, Any]) -> dict[str, Any]:
    """Where the input normalization runs and what the sensor must do before the network.

    The network takes raw pixels: its input tensor must be unsigned 8-bit with scale 1 (q = p), which
    is exactly what the sensor's identity input normalization (``IDENTITY_NETWORK_INFO``) delivers.
    ``x' = (x - mean) / std`` runs on the sensor as the network's first layer ``layer``.
    """
    return {"where": "network", "applied_on": "sensor", "layer": layer, "mean": list(mean), "std": list(std),
            "removed_from_graph": list(removed), "input_tensor": quant,
            "sensor": {"gain": [1.0, 1.0, 1.0], "offset": [0.0, 0.0, 0.0], "network_info": IDENTITY_NETWORK_INFO}}


def check_raw_input(quant: dict[str, Any]) -> None:
    """The quantized network must read the sensor's pixels as they are (unsigned, scale 1, no shift)."""
    from edgevision.convert.imx500.toolchain import ConversionRefused

    if not quant:
        raise ConversionRefused("imx500: imxconv wrote no input tensor description (dnnParams.xml); cannot tell "
                                "whether the network reads the sensor's pixels correctly")
    if quant.get("format") != "unsigned" or float(quant.get("scale") or 0) != 1.0 or quant.get("shift"):
        raise ConversionRefused(f"imx500: the quantized network reads its input as {quant.get('format')} 8-bit with "
                                f"scale {quant.get('scale')} and shift {quant.get('shift')}, but the sensor feeds raw "
                                "0..255 pixels (unsigned, scale 1); MCT picks the input range from the calibration "
                                "images (mostly dark or low-contrast ones narrow it): calibrate on images that span "
                                "0..255")


def weight_bytes(graph: Any) -> list[tuple[str, int]]:
    """(layer, bytes as 8-bit weights) per layer, largest first."""
    per: dict[str, int] = {}
    with np.load(graph.weights_path) as w:
        for key in w.files:
            per[key.rsplit(":", 1)[0]] = per.get(key.rsplit(":", 1)[0], 0) + int(w[key].size)
    return sorted(per.items(), key=lambda kv: -kv[1])


def check_fits(graph: Any) -> None:
    """Refuse before the (slow) quantization a network whose 8-bit weights alone exceed the sensor's memory;
    imxconv's memory report stays the authority for everything closer to the limit."""
    from edgevision.convert.imx500.toolchain import ConversionRefused

    layers = weight_bytes(graph)
    total = sum(n for _, n in layers)
    if total > SENSOR_MEMORY_BYTES:
        top = ", ".join(f"{name} {n / 2**20:.1f} MB" for name, n in layers[:3])
        raise ConversionRefused(f"imx500: the network does not fit the IMX500's memory: its weights alone need "
                                f"{total / 2**20:.1f} MB as 8-bit of the sensor's {SENSOR_MEMORY_BYTES / 2**20:.0f} "
                                f"MB (largest: {top}); make it smaller (fewer filters or units, a smaller input "
                                "before Flatten, or global pooling instead)")


def _images(samples: Any, run: RunDir) -> tuple[np.ndarray, np.ndarray]:
    from edgevision.convert.variants import load_images

    return load_images(samples, run)


def check_options(opts: Any, pol: Policy) -> None:
    """Flags that mean another quantizer are refused up front (one line, exit 2)."""
    for flag, value in (("--quant", opts.quant), ("--format", "onnx" if "onnx" in pol.formats else None),
                        ("--io", opts.io)):
        if value not in (None, "int8"):
            raise BadInput(f"{flag} {value}: --target imx500 quantizes with Sony's Model Compression Toolkit to the "
                           "sensor's own 8-bit format; drop the flag")


def convert_imx500(run_dir: str | Path, opts: Any, pol: Policy, con: Console) -> dict[str, Any]:
    """Convert a run for the IMX500; the report has the converter's usual shape plus an ``imx500`` section."""
    from edgevision.convert.variants import held_out
    from edgevision.train.rundir import load_keras

    check_options(opts, pol)
    find_toolchain()  # before anything slow: a missing toolchain is one line, exit 2
    run = load_run(run_dir, opts.labels)
    held_out(run, pol.split)  # an empty split is one line before the slow Keras load
    return convert_imx500_loaded(run, load_keras(run.model_path), run.model_path, opts, pol, con)


def convert_imx500_loaded(run: RunDir, model: Any, model_file: Path, opts: Any, pol: Policy, con: Console,
                          output: str = "scores", out_dir: Path | None = None,
                          source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The conversion proper, for a training run or a brought Keras model (``run.spec``: the normalization
    the model expects outside its graph; ``output``: ``logits`` makes the device softmax the scores)."""
    from edgevision.convert.imx500.graph_export import export_graph, with_input_normalization
    from edgevision.convert.quantize import check_static
    from edgevision.convert.validate import Scored, gate
    from edgevision.convert.variants import held_out

    tc = find_toolchain()
    split, held = held_out(run, pol.split)
    check_static(model, str(model_file))
    out = (out_dir or opts.out or run.export_dir) / f"{run.name}_imx500"
    work = out / "toolchain"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)

    graph = export_graph(model, work)
    check_fits(graph)
    mean, std = sensor_normalization(run.spec, graph.mean, graph.std)
    graph = with_input_normalization(graph, mean, std, run.spec.channels)  # the network takes raw pixels
    calib = load_calibration(run.dataset.train, run.spec, pol.calibration_size, run.classes,
                             int(run.recipe.get("seed", 0)), "train")
    held_x, held_y = _images(held, run)
    if not len(held_x):
        raise BadInput(f"no readable {split} images to validate on")
    probe = held_x[:PROBES]
    spec_in = (probe.astype(np.float32) - np.asarray(run.spec.mean, np.float32)) / np.asarray(run.spec.std, np.float32)
    expected = np.asarray(model(spec_in, training=False), np.float32)
    arrays = write_arrays(work, calibration=calib.images, heldout=held_x, probe=probe, probe_expected=expected)
    # every array is raw 0..255 pixels, as the sensor delivers them: the worker normalizes nothing
    result = run_worker(tc, job_for(work, graph, (0.0,), (1.0,), arrays), work, con)
    in_quant = tensor_quantization(result.get("dnn_params"))
    check_raw_input(in_quant)

    float_pred = np.argmax(np.load(result["float_scores"]), axis=1)
    quant_pred = np.argmax(np.load(result["quant_scores"]), axis=1)
    ref = Scored("float32", str(model_file), held_y, float_pred, classification_report(held_y, float_pred,
                                                                                             run.classes))
    cand = Scored("imx500", str(out / PACKER_FILE), held_y, quant_pred, classification_report(held_y, quant_pred,
                                                                                                run.classes))
    g = gate(ref, cand, pol.max_drop, run.classes)

    shutil.copyfile(result["packer"], out / PACKER_FILE)
    write_labels(out / LABELS_FILE, run.classes)
    memory = summarize_memory(result.get("memory"))
    imx = {
        "packer": str(out / PACKER_FILE), "packer_sha256": _sha256(out / PACKER_FILE),
        "packer_bytes": (out / PACKER_FILE).stat().st_size,
        "memory": {k: v for k, v in memory.items() if k != "raw"}, "memory_report": result.get("memory_report"),
        "layers": result.get("layers", []), "unsupported": [],
        "normalization": sensor_input(mean, std, graph.removed, graph.norm_layer, in_quant),
        "output_tensor": tensor_quantization(result.get("dnn_params"), "outputTensor"),
        "toolchain": {"python": str(tc.python), "mct": result.get("mct"), "tensorflow": result.get("tensorflow"),
                      "tpc": result.get("tpc"), "probe_max_diff": result.get("probe_max_diff")},
        "calibration": calib.record,
    }
    spec = PreprocessSpec(**{**run.spec.to_dict(), "mean": mean, "std": std})
    validation = {"split": split, "images": int(held_y.size), "accuracy": round(cand.accuracy, 5),
                  "float_accuracy": round(ref.accuracy, 5), "drop_points": g["drop_points"],
                  "agreement": g["agreement"], "budget_points": pol.max_drop, "passed": g["passed"],
                  "policy": pol.name, "scored_with": "MCT-quantized Keras model (fake-quant) on raw 0..255 pixels "
                                                    "after the device resize, normalized by its first layer as on "
                                                    "the sensor"}
    card = {"schema": "edgevision.model/1", "name": run.name,
            "preprocess": {"schema": "edgevision.preprocess/1", **spec.to_dict(), "normalization_on": "sensor"},
            "labels_sha256": labels_sha256(list(run.classes)), "num_classes": len(run.classes),
            "quantization": "imx500", "recipe": str(run.recipe.get("name", "")), "validation": validation,
            "calibration": calib.record, "edgevision_version": __version__, "references": [],
            "target": {"name": "imx500", "network": PACKER_FILE, "packer_sha256": imx["packer_sha256"],
                       "normalization": imx["normalization"], "memory": imx["memory"],
                       "output_tensor": imx["output_tensor"], "output": output, "label_offset": 0,
                       "layers": imx["layers"]}}
    if source is not None:  # a brought model: where it came from and how its preprocessing was decided
        card["source"] = source
    (out / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True), encoding="utf-8")

    def variant(s: Scored, path: Path, size: int, gt: dict[str, Any] | None) -> dict[str, Any]:
        v = {"accuracy": round(s.accuracy, 5), "size_bytes": size, "path": str(path), "quantization": s.name,
             "drop_points": gt["drop_points"] if gt else 0.0, "agreement": gt["agreement"] if gt else 1.0,
             "passed": gt["passed"] if gt else True}
        if len(run.classes) <= MAX_CONFUSION_CLASSES:
            v["confusion"] = s.report["confusion"]
        return v

    report = {
        "model": run.name, "run": str(run.root), "target": "imx500", "split": split, "images": int(held_y.size),
        "quant": "imx500", "policy": pol.to_dict(), "budget_points": pol.max_drop, "passed": g["passed"],
        "drop_points": g["drop_points"], "agreement": g["agreement"],
        "variants": {"float32": variant(ref, model_file, model_file.stat().st_size, None),
                     "imx500": variant(cand, out / PACKER_FILE, imx["packer_bytes"], g)},
        "per_class": g["per_class"], "worst_classes": g["worst_classes"], "calibration": calib.record,
        "imx500": {**imx, "card": str(out / CARD_FILE), "labels": str(out / LABELS_FILE)},
        "repair": None, "edgetpu": None, "onnx": None,
    }
    if source is not None:
        report["source"] = source
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    for name in (*arrays.values(), result["float_scores"], result["quant_scores"], graph.weights_path):
        Path(name).unlink(missing_ok=True)  # pixels and weights copies; logs, job and the quantized model stay
    return report


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
