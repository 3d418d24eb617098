"""Work out how to feed a model: from its model card, its TFLite Metadata, or its quantization.

Order of trust: an explicit user choice, then edgevision's card (exact training spec),
then standard metadata normalization, then (for integer inputs only) the input
quantization itself. A float model with no normalization anywhere is refused: guessing
is the classic silent accuracy bug.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edgevision.errors import BadInput
from edgevision.model.artifact import ModelArtifact
from edgevision.model.spec import NORMALIZATIONS, PreprocessSpec
from edgevision.runtime.preprocess import InputQuant


def input_quant(detail: dict[str, Any]) -> InputQuant:
    import numpy as np

    scale, zp = detail.get("quantization", (0.0, 0))
    return InputQuant(dtype=np.dtype(detail["dtype"]).name, scale=float(scale), zero_point=int(zp))


def input_geometry(detail: dict[str, Any], origin: str) -> tuple[int, int, int]:
    shape = [int(v) for v in detail["shape"]]
    signature = [int(v) for v in detail.get("shape_signature", shape)]
    if len(shape) != 4 or shape[0] != 1:
        raise BadInput(f"{origin}: expected one NHWC image input, got input shape {shape}")
    if any(v < 0 for v in signature[1:]):
        raise BadInput(f"{origin}: dynamic input shape {signature} is not supported; export with a fixed size")
    _, h, w, c = shape
    if c not in (1, 3):
        raise BadInput(f"{origin}: input has {c} channels; expected 1 (grayscale) or 3 (RGB)")
    return h, w, c


def resolve_spec(artifact: ModelArtifact, detail: dict[str, Any], normalization: str | None = None,
                 crop: str | None = None) -> PreprocessSpec:
    origin = str(artifact.path)
    h, w, c = input_geometry(detail, origin)
    quant = input_quant(detail)
    if artifact.card is not None:
        spec = artifact.card.spec
        if (spec.width, spec.height, spec.channels) != (w, h, c):
            raise BadInput(f"{origin}: model card says {spec.width}x{spec.height}x{spec.channels} "
                           f"but the input tensor is {w}x{h}x{c}")
    else:
        spec = PreprocessSpec(width=w, height=h, channels=c, color="GRAY" if c == 1 else "RGB")
        md = artifact.metadata
        raw = _raw_pixel_normalization(quant)
        if md is not None and md.mean and md.std and not (raw and _same_normalization(md.mean, md.std, *raw)):
            spec = replace(spec, mean=md.mean, std=md.std)
        elif raw is not None:
            # Feed pixels as they are when the quantization says so (pycoral's and MediaPipe's convention,
            # also when metadata says 127.5/127.5 and the quantization 128/128: within a rounding step).
            spec = replace(spec, mean=(raw[0],), std=(raw[1],))
        elif normalization is None and quant.dtype == "float32":
            raise BadInput(f"{origin}: float input and no normalization in its metadata; pass "
                           f"--norm {'|'.join(NORMALIZATIONS)} (0..255, 0..1 or -1..1)")
    if normalization is not None:
        spec = spec.with_normalization(normalization)
    if crop is not None:
        spec = replace(spec, crop=crop)
    return spec


def _raw_pixel_normalization(quant: InputQuant) -> tuple[float, float] | None:
    """The (mean, std) under which raw 0..255 pixels are exactly the quantized input (integer inputs)."""
    if quant.dtype not in ("uint8", "int8") or not quant.scale:
        return None
    return float(quant.zero_point + (128 if quant.dtype == "int8" else 0)), 1.0 / quant.scale


def _same_normalization(mean: tuple[float, ...], std: tuple[float, ...], raw_mean: float, raw_std: float) -> bool:
    """True when two normalizations map every pixel 0..255 to within one quantization step of each other."""
    import numpy as np

    px = np.array([0.0, 255.0])
    for m, s in zip(np.broadcast_to(mean, 3), np.broadcast_to(std, 3), strict=True):
        # both expressed in quantized units: (x - m) / s / scale vs (x - raw_mean) / raw_std / scale
        a = (px - m) / s * raw_std
        b = px - raw_mean
        if np.max(np.abs(a - b)) > 1.0 + 1e-6:
            return False
    return True
