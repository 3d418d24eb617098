"""Frame -> input tensor, exactly as the model's preprocessing spec says.

Training (through :func:`resize_to_spec`), calibration, validation and the device all call
this module, so there is one implementation of resize/crop/color and of the
normalize-then-quantize arithmetic. When the spec and the input quantization cancel out
(an edgevision int8 model: raw pixels in, scale 1, zero point 0) no arithmetic runs at all.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from typing import NamedTuple

import numpy as np

from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec

_INTERP = {"bilinear": 1, "area": 3, "nearest": 0}  # cv2.INTER_LINEAR / INTER_AREA / INTER_NEAREST


def resize_to_spec(rgb: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Crop/resize and convert color: HxWx3 RGB uint8 -> spec.height x spec.width x channels uint8."""
    import cv2

    check_frame(rgb)
    h, w = rgb.shape[:2]
    tw, th = spec.width, spec.height
    interp = _INTERP[spec.resize]
    if spec.crop == "center":
        scale = max(tw / w, th / h)
        cw, ch = min(w, round(tw / scale)), min(h, round(th / scale))
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        rgb = rgb[y0:y0 + ch, x0:x0 + cw]
        out = cv2.resize(rgb, (tw, th), interpolation=interp) if (cw, ch) != (tw, th) else rgb
    elif spec.crop == "letterbox":
        scale = min(tw / w, th / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        out = np.zeros((th, tw, 3), np.uint8)
        x0, y0 = (tw - nw) // 2, (th - nh) // 2
        out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(rgb, (nw, nh), interpolation=interp)
    else:
        out = cv2.resize(rgb, (tw, th), interpolation=interp) if (w, h) != (tw, th) else rgb
    if spec.color == "BGR":
        out = out[..., ::-1]
    elif spec.color == "GRAY" or spec.channels == 1:
        out = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2GRAY)[..., None]
    return np.ascontiguousarray(out)


def check_frame(frame: np.ndarray) -> None:
    """Refuse arrays that are not HxWx3 uint8 RGB, naming the classic camera mistake behind each."""
    shape, dtype = getattr(frame, "shape", None), getattr(frame, "dtype", None)
    if not isinstance(frame, np.ndarray):
        raise BadInput(f"frame must be a numpy array (HxWx3 uint8 RGB), got {type(frame).__name__}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        raise BadInput(f"frame must be HxWx3 RGB, got one channel {shape}: a grayscale or Y plane "
                       "(picamera2 lores YUV420?); convert it to RGB (cv2.COLOR_YUV2RGB_I420 for a YUV420 array, "
                       "COLOR_GRAY2RGB for gray)")
    if frame.ndim == 3 and frame.shape[2] == 4:
        raise BadInput(f"frame must be HxWx3 RGB, got 4 channels {shape}: XRGB8888/BGRA (picamera2) or RGBA; "
                       "pass frame[..., 2::-1] for picamera2's XRGB8888 (bytes are B,G,R,X) or frame[..., :3] for RGBA")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise BadInput(f"frame must be HxWx3 uint8 RGB, got shape {shape}")
    if dtype != np.uint8:
        raise BadInput(f"frame must be HxWx3 uint8 0..255, got {dtype}: pass the camera's pixels; the model's own "
                       "normalization is applied by the Classifier")


class InputQuant(NamedTuple):
    """The model input's dtype and affine quantization (scale 0 means not quantized)."""

    dtype: str
    scale: float = 0.0
    zero_point: int = 0


class Preprocessor:
    """Callable turning an RGB frame into a (1, H, W, C) tensor of the model's input dtype."""

    def __init__(self, spec: PreprocessSpec, quant: InputQuant) -> None:
        self.spec, self.quant = spec, quant
        c = spec.channels
        mean = np.broadcast_to(np.asarray(spec.mean, np.float32), (c,)).copy()
        std = np.broadcast_to(np.asarray(spec.std, np.float32), (c,)).copy()
        self._mean, self._std = mean, std
        self._mode = self._plan()

    def _plan(self) -> str:
        q = self.quant
        if q.dtype == "float32":
            return "identity_float" if np.allclose(self._mean, 0) and np.allclose(self._std, 1) else "float"
        if q.dtype not in ("uint8", "int8"):
            raise BadInput(f"unsupported model input type {q.dtype}; expected uint8, int8 or float32")
        if q.scale == 0:  # integer input with no quantization: feed pixels as they are
            return "raw" if q.dtype == "uint8" else "shift"
        gain = 1.0 / (self._std * q.scale)
        offset = q.zero_point - self._mean * gain
        if np.allclose(gain, 1, atol=1e-5) and np.allclose(offset, 0, atol=1e-3) and q.dtype == "uint8":
            return "raw"
        if np.allclose(gain, 1, atol=1e-5) and np.allclose(offset, -128, atol=1e-3) and q.dtype == "int8":
            return "shift"
        self._gain, self._offset = gain.astype(np.float32), offset.astype(np.float32)
        return "affine"

    @property
    def mode(self) -> str:
        """How pixels reach the tensor: raw, shift (uint8->int8), affine, float or identity_float."""
        return self._mode

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.from_resized(resize_to_spec(rgb, self.spec))

    def from_resized(self, img: np.ndarray) -> np.ndarray:
        """Normalize and quantize an already resized uint8 image (HxWxC)."""
        mode = self._mode
        if mode == "raw":
            x = img
        elif mode == "shift":
            x = (img ^ np.uint8(0x80)).view(np.int8)
        elif mode == "identity_float":
            x = img.astype(np.float32)
        elif mode == "float":
            x = (img.astype(np.float32) - self._mean) / self._std
        else:
            info = np.iinfo(self.quant.dtype)
            x = np.clip(np.rint(img.astype(np.float32) * self._gain + self._offset), info.min, info.max)
            x = x.astype(self.quant.dtype)
        return x[None, ...]
