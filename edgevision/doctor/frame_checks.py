"""Checks on live frames that catch the classic camera-integration mistakes.

Each mistake gives a model input that still "works" but classifies worse, which nobody
notices on a device without a screen: colors swapped (OpenCV and picamera2 hand BGR),
4-channel XRGB arrays, a grayscale Y plane, the wrong normalization, a frozen or black
camera. The color and normalization checks ask the model itself: if the frames score
clearly more confidently with the channels swapped (or another normalization), the
pipeline feeding it is probably wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgevision.model.spec import NORMALIZATIONS
from edgevision.runtime.classifier import Classifier
from edgevision.runtime.preprocess import Preprocessor


@dataclass(frozen=True)
class Check:
    """One line of the doctor's verdict. ``status``: pass, warn, fail, info or skip."""

    name: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


def check_arrays(frames: Sequence[np.ndarray]) -> list[Check]:
    """Shape, dtype, grayscale, frozen and exposure checks on raw arrays (no model involved)."""
    if not frames:
        return [Check("frames", "fail", "no frames to check")]
    f = frames[0]
    shape = tuple(f.shape)
    if f.ndim == 3 and f.shape[2] == 4:
        return [Check("frame format", "fail", f"4-channel arrays {shape}: XRGB8888/BGRA; drop the X channel and "
                                              "reverse B,G,R (frame[..., 2::-1] for picamera2 XRGB8888)")]
    if f.ndim == 2 or (f.ndim == 3 and f.shape[2] == 1):
        hint = " (looks like a YUV420 buffer: h*3/2 rows)" if f.ndim == 2 and f.shape[0] % 3 == 0 else ""
        return [Check("frame format", "fail", f"single-channel arrays {shape}: a Y plane or grayscale{hint}; "
                                              "convert to RGB before classifying")]
    if f.ndim != 3 or f.shape[2] != 3:
        return [Check("frame format", "fail", f"unexpected array shape {shape}; expected HxWx3")]
    if f.dtype != np.uint8:
        return [Check("frame format", "fail", f"{f.dtype} arrays; expected uint8 0..255 (do not pre-normalize)")]
    out = [Check("frame format", "pass", f"{shape[1]}x{shape[0]} RGB uint8")]
    gray = np.mean([_grayish(x) for x in frames])
    out.append(Check("color", "warn", "frames have no color (R=G=B): a grayscale/IR camera or a Y plane copied to "
                                      "3 channels") if gray > 0.98 else Check("color", "pass", "frames carry color"))
    means = [float(x.mean()) for x in frames]
    if max(means) < 8:
        out.append(Check("exposure", "warn", f"frames are black (mean {np.mean(means):.1f}): lens cap, no light?"))
    elif min(means) > 247:
        out.append(Check("exposure", "warn", f"frames are white (mean {np.mean(means):.1f}): overexposed"))
    else:
        out.append(Check("exposure", "pass", f"mean brightness {np.mean(means):.0f}/255"))
    if len(frames) > 2 and all(np.array_equal(frames[0], x) for x in frames[1:]):
        out.append(Check("motion", "warn", f"all {len(frames)} frames are identical: a frozen camera or a still image"))
    return out


def _grayish(rgb: np.ndarray) -> float:
    small = rgb[:: max(1, rgb.shape[0] // 64), :: max(1, rgb.shape[1] // 64)].astype(np.int16)
    spread = np.abs(small[..., 0] - small[..., 1]) + np.abs(small[..., 1] - small[..., 2])
    return float(np.mean(spread <= 2))


def _confidence(clf: Classifier, pre: Preprocessor, frames: Sequence[np.ndarray]) -> np.ndarray:
    """Top-1 probability-like score per frame (softmax applied if the outputs are logits)."""
    out = []
    for rgb in frames:
        s = clf.infer(pre(rgb))
        if s.min() < 0 or s.sum() > 1.5:  # logits, not probabilities
            e = np.exp(s - s.max())
            s = e / e.sum()
        out.append(float(s.max()))
    return np.asarray(out)


def compare(name: str, base: np.ndarray, alt: np.ndarray, what: str, fix: str) -> Check:
    """Flag ``what`` when the alternative input is clearly and consistently more confident."""
    gain, wins = float(alt.mean() - base.mean()), float(np.mean(alt > base + 1e-6))
    figures = f"top-1 confidence {base.mean():.2f} as delivered vs {alt.mean():.2f} {what}"
    if gain > 0.2 and wins >= 0.8:
        return Check(name, "fail", f"{figures}: {fix}")
    if gain > 0.1 and wins >= 0.6:
        return Check(name, "warn", f"{figures}: possibly {fix}")
    return Check(name, "pass", figures)


def check_with_model(clf: Classifier, frames: Sequence[np.ndarray], normalization: bool = True) -> list[Check]:
    """Color order (and normalization, when it was a guess), judged by the model's confidence on real frames."""
    pre = clf.preprocessor
    base = _confidence(clf, pre, frames)
    out = [compare("color order", base, _confidence(clf, pre, [f[..., ::-1] for f in frames]),
                   "with R and B swapped", "the frames look BGR; convert BGR->RGB before classifying")]
    best: tuple[float, str, np.ndarray] | None = None
    for norm in NORMALIZATIONS if normalization else ():
        spec = clf.spec.with_normalization(norm)
        if np.allclose(spec.mean, clf.spec.mean) and np.allclose(spec.std, clf.spec.std):
            continue
        alt = _confidence(clf, Preprocessor(spec, pre.quant), frames)
        if best is None or alt.mean() > best[0]:
            best = (float(alt.mean()), norm, alt)
    if best is not None:
        out.append(compare("normalization", base, best[2], f"with --norm {best[1]}",
                           f"the model may expect --norm {best[1]} ({_describe(best[1])})"))
    return out


def _describe(norm: str) -> str:
    mean, std = NORMALIZATIONS[norm]
    lo, hi = (0 - mean) / std, (255 - mean) / std
    return f"pixels scaled to {lo:g}..{hi:g}"
