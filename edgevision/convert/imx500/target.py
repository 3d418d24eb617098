"""The IMX500 converter target's entry (``convert/targets.py``): Sony's quantizer and converter, in its own venv.

The float model goes to Sony's Model Compression Toolkit and imxconv (convert/imx500/mct_convert.py through
the toolchain's worker); the result is packerOut.zip with labels.txt and imx500.json, not a .tflite.
"""

from __future__ import annotations

from pathlib import Path

from edgevision.convert.imx500.mct_convert import check_options
from edgevision.convert.imx500.mct_convert import convert_imx500 as convert_run
from edgevision.convert.imx500.mct_convert import convert_imx500_loaded as convert_loaded
from edgevision.convert.imx500.report_render import render_imx500 as render
from edgevision.errors import BadInput

__all__ = ["FLOAT_CHECK", "PREPROCESS_APPLIED", "check_brought", "check_options", "check_ready", "convert_loaded",
           "convert_run", "render"]

KERAS_FORMATS = "a Keras model (.keras, or .h5 from Keras 3 or tf.keras 2) or an edgevision training run"
FLOAT_CHECK = "--target imx500: the IMX500 toolchain checks its TensorFlow 2.15 rebuild instead"
PREPROCESS_APPLIED = "on the sensor, as the network's first layer"


def check_brought(path: Path, fmt: str) -> None:
    """Sony's Model Compression Toolkit quantizes Keras models: Keras 3 and tf.keras 2 graphs are handed over
    as layer lists (graph_export); a SavedModel, ONNX, PyTorch or .tflite has no Keras layers to hand over."""
    if fmt in ("keras", "keras2"):
        return
    what = {"savedmodel": "a SavedModel", "onnx": "an ONNX model", "pytorch": "a PyTorch program",
            "tflite": "a .tflite model"}.get(fmt, f"a {fmt} model")
    raise BadInput(f"{path}: --target imx500 takes {KERAS_FORMATS}, not {what}; convert it for cpu/edgetpu "
                   "without --target, or rebuild it in Keras and save it as .keras")


def check_ready() -> None:
    """Sony's toolchain must be set up (``edgevision toolchain install imx500`` says how)."""
    from edgevision.convert.imx500.toolchain import find_toolchain

    find_toolchain()
