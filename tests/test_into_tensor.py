"""Preprocessing straight into the input tensor gives the reference Preprocessor's bytes, from RGB or BGR frames."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.into_tensor import TensorWriter
from edgevision.runtime.preprocess import InputQuant, Preprocessor

QUANTS = [
    (InputQuant("uint8", 1.0, 0), 0.0, 1.0),              # raw
    (InputQuant("int8", 1.0, -128), 0.0, 1.0),            # shift
    (InputQuant("uint8", 1 / 127.5, 128), 127.5, 127.5),  # affine
    (InputQuant("int8", 0.0078125, -1), 127.5, 127.5),    # affine, int8
    (InputQuant("float32"), 0.0, 1.0),                    # identity_float
    (InputQuant("float32"), 127.5, 127.5),                # float
]


@pytest.mark.parametrize(("quant", "mean", "std"), QUANTS)
def test_writer_is_bit_identical_to_the_reference(quant: InputQuant, mean: float, std: float) -> None:
    rng = np.random.default_rng(0)
    for crop, color, resize, (h, w) in itertools.product(("squash", "center", "letterbox"), ("RGB", "BGR", "GRAY"),
                                                         ("bilinear", "area", "nearest"),
                                                         ((48, 64), (37, 53), (24, 24), (30, 20))):
        spec = PreprocessSpec(24, 24, 1 if color == "GRAY" else 3, color, resize, crop, (mean,), (std,))
        ref, writer = Preprocessor(spec, quant), TensorWriter(spec, quant)
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        want = ref(rgb)[0]
        for order, img in (("RGB", rgb), ("BGR", np.ascontiguousarray(rgb[..., ::-1]))):
            for _ in range(2):  # the second write reuses the cached geometry and buffers
                out = np.full(want.shape, 7, want.dtype)  # garbage where the letterbox pads must be overwritten
                writer.write(img, out, order)
                np.testing.assert_array_equal(out, want, err_msg=f"{spec} {quant} {order}")


def test_writer_accepts_crops_and_non_contiguous_views() -> None:
    spec = PreprocessSpec(16, 16, crop="center")
    quant = InputQuant("uint8", 1.0, 0)
    big = np.random.default_rng(1).integers(0, 256, (40, 60, 4), dtype=np.uint8)
    view = big[..., :3]  # a 4-byte camera format's first three channels, not contiguous
    out = np.empty((16, 16, 3), np.uint8)
    TensorWriter(spec, quant).write(view, out, "RGB")
    np.testing.assert_array_equal(out, Preprocessor(spec, quant)(np.ascontiguousarray(view))[0])


def test_writer_refuses_what_the_reference_refuses() -> None:
    writer = TensorWriter(PreprocessSpec(8, 8), InputQuant("uint8", 1.0, 0))
    out = np.empty((8, 8, 3), np.uint8)
    with pytest.raises(BadInput, match="HxWx3"):
        writer.write(np.zeros((4, 4, 4), np.uint8), out)
    with pytest.raises(BadInput, match="RGB or BGR"):
        writer.write(np.zeros((4, 4, 3), np.uint8), out, "YUV")
