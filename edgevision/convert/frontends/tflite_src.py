"""[TF] A float ``.tflite`` the user brought: its own interpreter is the reference, TFLite's calibrator quantizes it.

There is no graph to hand to ``TFLiteConverter``, so int8 is made from the file itself with
the two steps the converter runs internally on its own float output: TFLite's calibrator
records activation ranges over the representative images, then the MLIR quantizer
(``quantize.quantize_int8``) writes the integer model. Because these are the same steps,
the repair strategy that keeps layers in float works unchanged. Normalization and labels
come from the file's TFLite Metadata where it has them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevision.convert.frontends.frontend_base import BroughtModel
from edgevision.convert.quantize import calibrate_tflite
from edgevision.errors import BadInput
from edgevision.model.artifact import load_artifact


@dataclass
class TfliteModel(BroughtModel):
    def input_range(self) -> tuple[float, float]:
        """A .tflite keeps its float input: 0..255 pixels after the spec's normalization, on the device."""
        ends = self.normalize(np.array([[[[0.0] * self.channels, [255.0] * self.channels]]], np.float32))
        return float(ends.min()), float(ends.max())

    def calibrate(self, images: np.ndarray, on_step: Callable[[], None] | None = None) -> bytes:

        if self.add_softmax:
            raise BadInput(f"{self.origin}: a .tflite that ends in logits cannot get a softmax appended here; "
                           "re-export it with a softmax, or pass --outputs probabilities if its scores already are")
        data = self.normalize(images)  # a .tflite keeps its float input: the spec's mean/std go on the device
        assert self.float_tflite is not None
        return calibrate_tflite(self.float_tflite, data, on_step, self.origin)


def load_tflite(path: Path) -> TfliteModel:
    from edgevision.runtime.interpreter import make_interpreter
    from edgevision.runtime.resolve import input_geometry

    art = load_artifact(path)
    interp, _ = make_interpreter(art.data, None, None, str(path))
    ins, outs = interp.get_input_details(), interp.get_output_details()
    if len(ins) != 1:
        raise BadInput(f"{path}: model has {len(ins)} inputs; an image classifier has exactly one")
    if len(outs) != 1:
        raise BadInput(f"{path}: model has {len(outs)} outputs (a detector or multi-head model?); an image "
                       "classifier has one (batch, classes) output")
    if np.dtype(ins[0]["dtype"]) != np.float32:
        raise BadInput(f"{path}: already quantized ({np.dtype(ins[0]['dtype']).name} input); edgevision run can use "
                       "it as it is, re-quantizing needs the float model")
    h, w, c = input_geometry(ins[0], str(path))
    shape = [int(v) for v in outs[0]["shape"]]
    if len(shape) != 2 or shape[0] != 1:
        raise BadInput(f"{path}: output shape {shape} is not (1, classes)")
    md = art.metadata
    norm = ((tuple(md.mean), tuple(md.std), "TFLite Metadata of the file") if md is not None and md.mean and md.std
            else None)

    def run(x: np.ndarray) -> np.ndarray:
        res = []
        for i in range(len(x)):
            interp.set_tensor(ins[0]["index"], x[i:i + 1].astype(np.float32))
            interp.invoke()
            res.append(np.array(interp.get_tensor(outs[0]["index"])))
        return np.concatenate(res)

    return TfliteModel(kind="tflite", origin=str(path), height=h, width=w, channels=c, classes=shape[1],
                       run_original=run, float_tflite=art.data, from_model=norm, labels=art.labels,
                       route="the float .tflite itself (TFLite calibrator + MLIR quantizer)")
