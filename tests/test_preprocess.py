"""The one preprocessing implementation: crop policies, color order, normalize-then-quantize."""

from __future__ import annotations

import numpy as np
import pytest

from edgevision.errors import BadInput
from edgevision.model.spec import PreprocessSpec
from edgevision.runtime.postprocess import OutputQuant, QuantizedRanker, dequantize, top_k
from edgevision.runtime.preprocess import InputQuant, Preprocessor, resize_to_spec


def _frame(h: int = 40, w: int = 80) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 4] = (255, 0, 0)      # red band on the left
    img[:, w // 4: 3 * w // 4] = (0, 255, 0)
    img[:, 3 * w // 4:] = (0, 0, 255)   # blue band on the right
    return img


def test_squash_keeps_the_whole_frame() -> None:
    out = resize_to_spec(_frame(), PreprocessSpec(8, 8, resize="nearest", crop="squash"))
    assert out.shape == (8, 8, 3)
    assert tuple(out[4, 0]) == (255, 0, 0) and tuple(out[4, 7]) == (0, 0, 255)


def test_center_crop_cuts_the_sides() -> None:
    out = resize_to_spec(_frame(), PreprocessSpec(8, 8, resize="nearest", crop="center"))
    assert (out[..., 1] == 255).all()  # only the green middle survives a square centre crop of 80x40


def test_letterbox_pads() -> None:
    out = resize_to_spec(_frame(), PreprocessSpec(8, 8, resize="nearest", crop="letterbox"))
    assert (out[0] == 0).all() and (out[-1] == 0).all() and out[4].any()


def test_bgr_and_gray_models() -> None:
    bgr = resize_to_spec(_frame(), PreprocessSpec(8, 8, resize="nearest", color="BGR"))
    assert tuple(bgr[4, 0]) == (0, 0, 255)
    gray = resize_to_spec(_frame(), PreprocessSpec(8, 8, channels=1, color="GRAY"))
    assert gray.shape == (8, 8, 1)


def test_rejects_non_rgb_frames() -> None:
    with pytest.raises(BadInput, match="HxWx3"):
        resize_to_spec(np.zeros((4, 4, 4), np.uint8), PreprocessSpec(2, 2))
    with pytest.raises(BadInput, match="HxWx3"):
        resize_to_spec(np.zeros((4, 4, 3), np.float32), PreprocessSpec(2, 2))


@pytest.mark.parametrize(("quant", "mean", "std", "mode"), [
    (InputQuant("uint8", 1.0, 0), 0.0, 1.0, "raw"),
    (InputQuant("int8", 1.0, -128), 0.0, 1.0, "shift"),
    (InputQuant("uint8", 1 / 127.5, 128), 127.5, 127.5, "affine"),   # 0.5 pixel offset: not an identity
    (InputQuant("float32"), 0.0, 1.0, "identity_float"),
    (InputQuant("float32"), 127.5, 127.5, "float"),
])
def test_quantization_fast_paths_agree_with_the_formula(quant: InputQuant, mean: float, std: float,
                                                        mode: str) -> None:
    spec = PreprocessSpec(4, 4, mean=(mean,), std=(std,))
    pre = Preprocessor(spec, quant)
    assert pre.mode == mode
    img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5
    got = pre.from_resized(img)[0]
    real = (img.astype(np.float64) - mean) / std
    if quant.dtype == "float32":
        np.testing.assert_allclose(got, real, rtol=1e-6)
    else:
        info = np.iinfo(quant.dtype)
        want = np.clip(np.rint(real / quant.scale + quant.zero_point), info.min, info.max)
        assert got.dtype == np.dtype(quant.dtype)
        assert np.abs(got.astype(int) - want).max() <= 1


def test_dequantize_and_top_k() -> None:
    scores = dequantize(np.array([[0, 128, 255, 64]], np.uint8), OutputQuant(1 / 255, 0))
    np.testing.assert_allclose(scores, [0, 128 / 255, 1.0, 64 / 255], rtol=1e-6)
    ranked = top_k(scores, ("a", "b", "c", "d"), k=2)
    assert [p.label for p in ranked] == ["c", "b"]
    assert top_k(scores, ("a", "b", "c", "d"), k=4, threshold=0.2)[-1].label == "d"
    assert len(top_k(scores, ("a", "b", "c", "d"), k=4, threshold=0.3)) == 2


def test_top_k_with_background_offset_and_ties() -> None:
    scores = np.array([0.5, 0.25, 0.25], np.float32)
    ranked = top_k(scores, ("cat", "dog"), k=3, label_offset=1)
    assert [(p.label, p.index) for p in ranked] == [("background", 0), ("cat", 1), ("dog", 2)]


@pytest.mark.parametrize(("dtype", "quant"), [(np.uint8, OutputQuant(1 / 256, 0)), (np.int8, OutputQuant(0.0213, -7)),
                                              (np.uint8, OutputQuant(0.0, 0))])
def test_an_8bit_output_ranked_on_its_integers_is_ranked_as_its_scores(dtype: type, quant: OutputQuant) -> None:
    """Same labels, same order (ties by index, boundary ties too) and bit-identical scores."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    labels = tuple(f"c{i}" for i in range(1000))
    ranker = QuantizedRanker(np.dtype(dtype), quant)
    for size, spread in ((1000, 6), (1000, 256), (5, 2), (1001, 40)):  # few distinct values: many ties
        raw = rng.integers(info.max - spread + 1, info.max + 1, (1, size)).astype(dtype)
        scores = dequantize(raw, quant)
        for k in (1, 3, 5, size):
            for threshold, offset in ((-np.inf, 0), (float(np.median(scores)), 1)):
                want = top_k(scores, labels, k, threshold, offset)
                got = ranker.rank(raw, labels, k, threshold, offset)
                assert got == want
                assert [type(p.score) for p in got] == [float] * len(got)
    assert not QuantizedRanker.handles(np.dtype(np.float32), quant)
    assert not QuantizedRanker.handles(np.dtype(np.int16), quant)
