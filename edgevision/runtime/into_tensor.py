"""Write a frame straight into the interpreter's input tensor, with as few copies as the spec allows.

:class:`~edgevision.runtime.preprocess.Preprocessor` is the reference (it returns a new
array, as training and the converter's gate want); this writer produces the same bytes
into a buffer it is given, normally the ``interpreter.tensor()`` view of the input (what
pycoral's ``set_input`` does), so ``set_tensor``'s copy goes away. The frame is cropped by
slicing (no copy), resized once, and only then has its channels swapped or normalized, on
the model-sized image: resizing works per channel, so a BGR frame resized then swapped
gives exactly the tensor of the RGB frame resized. Crop geometry, letterbox fill values
and scratch buffers are computed once per input shape.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

from typing import NamedTuple

import numpy as np

from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.preprocess import _INTERP, InputQuant, Preprocessor, check_frame

ORDERS = ("RGB", "BGR")


class Staged(NamedTuple):
    """A model input tensor made from a frame ahead of time (by a reader thread), and what it took."""

    tensor: np.ndarray
    ms: float


class _Geometry(NamedTuple):
    """Where the frame's pixels go for one input shape: source crop, resized size, placement."""

    y0: int
    y1: int
    x0: int
    x1: int
    nw: int            # size the crop is resized to
    nh: int
    py: int            # its top-left corner in the tensor (letterbox only)
    px: int
    resize: bool       # False when the crop already has the resized size

    @property
    def full(self) -> bool:
        return self.py == 0 and self.px == 0


def _geometry(spec: PreprocessSpec, h: int, w: int) -> _Geometry:
    """The same arithmetic as :func:`resize_to_spec`, done once per frame shape."""
    tw, th = spec.width, spec.height
    if spec.crop == "center":
        scale = max(tw / w, th / h)
        cw, ch = min(w, round(tw / scale)), min(h, round(th / scale))
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return _Geometry(y0, y0 + ch, x0, x0 + cw, tw, th, 0, 0, (cw, ch) != (tw, th))
    if spec.crop == "letterbox":
        scale = min(tw / w, th / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        return _Geometry(0, h, 0, w, nw, nh, (th - nh) // 2, (tw - nw) // 2, True)
    return _Geometry(0, h, 0, w, tw, th, 0, 0, (w, h) != (tw, th))


class TensorWriter:
    """``write(frame, out, order)`` fills ``out`` (H x W x C, the input dtype) as the Preprocessor would."""

    def __init__(self, spec: PreprocessSpec, quant: InputQuant) -> None:
        self.spec, self.quant = spec, quant
        self.reference = Preprocessor(spec, quant)
        self.mode = self.reference.mode
        self._interp = _INTERP[spec.resize]
        self._gray = spec.color == "GRAY" or spec.channels == 1
        self._shapes: dict[tuple[int, int], _Geometry] = {}
        self._scratch: dict[tuple[str, int, int, int], np.ndarray] = {}
        self._fill = self.reference.from_resized(np.zeros((1, 1, spec.channels), np.uint8))[0, 0]  # letterbox pad
        self._f32: np.ndarray | None = None

    def _buffer(self, tag: str, h: int, w: int, c: int) -> np.ndarray:
        key = (tag, h, w, c)
        buf = self._scratch.get(key)
        if buf is None:
            if len(self._scratch) > 8:
                self._scratch.clear()
            buf = self._scratch[key] = np.empty((h, w, c), np.uint8)
        return buf

    def geometry(self, h: int, w: int) -> _Geometry:
        g = self._shapes.get((h, w))
        if g is None:
            if len(self._shapes) > 16:  # a source that changes size all the time: keep the cache bounded
                self._shapes.clear()
            g = self._shapes[(h, w)] = _geometry(self.spec, h, w)
        return g

    def write(self, frame: np.ndarray, out: np.ndarray, order: str = "RGB") -> None:
        """Preprocess ``frame`` (HxWx3 uint8 in channel ``order``) into ``out``."""
        import cv2

        check_frame(frame)
        if order not in ORDERS:
            raise BadInput(f"frame channel order must be RGB or BGR, got {order!r}")
        g = self.geometry(*frame.shape[:2])
        crop = frame[g.y0:g.y1, g.x0:g.x1]
        if not g.full:  # letterbox: pad first, the resized frame goes in the middle
            out[:g.py], out[g.py + g.nh:] = self._fill, self._fill
            out[:, :g.px], out[:, g.px + g.nw:] = self._fill, self._fill
        region = out if g.full else out[g.py:g.py + g.nh, g.px:g.px + g.nw]
        swap = (order != "BGR") == (self.spec.color == "BGR")  # True when the frame's order differs from the model's
        if self._gray:
            swap = False
        direct = self.mode == "raw" and g.full and not swap and not self._gray
        if direct and g.resize:  # the whole preprocessing is one resize, into the tensor
            cv2.resize(crop, (g.nw, g.nh), dst=region, interpolation=self._interp)
            return
        if g.resize:
            resized = cv2.resize(crop, (g.nw, g.nh), dst=self._buffer("resized", g.nh, g.nw, 3),
                                 interpolation=self._interp)
        else:
            resized = crop
        if self._gray:
            code = cv2.COLOR_BGR2GRAY if order == "BGR" else cv2.COLOR_RGB2GRAY
            img = cv2.cvtColor(np.ascontiguousarray(resized), code)[..., None]
        elif swap:
            img = cv2.cvtColor(np.ascontiguousarray(resized), cv2.COLOR_RGB2BGR,
                               dst=self._buffer("swapped", g.nh, g.nw, 3))
        else:
            img = resized
        self._normalize(img, region)

    def _normalize(self, img: np.ndarray, out: np.ndarray) -> None:
        """The Preprocessor's ``from_resized`` arithmetic (same float32 operations), written into ``out``."""
        mode, ref = self.mode, self.reference
        if mode == "raw" or mode == "identity_float":
            np.copyto(out, img, casting="unsafe")
        elif mode == "shift":
            np.bitwise_xor(img, np.uint8(0x80), out=out.view(np.uint8))
        elif mode == "float":
            np.subtract(img, ref._mean, out=out, dtype=np.float32)
            np.divide(out, ref._std, out=out)
        else:
            tmp = self._f32
            if tmp is None or tmp.shape != img.shape:
                tmp = self._f32 = np.empty(img.shape, np.float32)
            np.multiply(img, ref._gain, out=tmp, dtype=np.float32)
            np.add(tmp, ref._offset, out=tmp)
            np.rint(tmp, out=tmp)
            info = np.iinfo(self.quant.dtype)
            np.clip(tmp, info.min, info.max, out=tmp)
            np.copyto(out, tmp, casting="unsafe")
