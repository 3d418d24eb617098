"""``edgevision doctor``: is this device classifying the way the desktop promised?

1. The runtime: interpreter, version, delegate, threads, input type, invoke time.
2. The reference images the model file carries (non-square, so squash vs crop shows):
   run through the real runtime and compared with the scores recorded at export. On a
   mismatch, variants (BGR, other crops, other normalizations) are tried to name the cause.
3. Live frames from ``--source``: delivered format, size, frame rate, frame age, and the
   classic mistakes (see :mod:`edgevision.doctor.frame_checks`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from edgevision.doctor.frame_checks import Check, check_arrays, check_with_model
from edgevision.model.spec import CROPS, NORMALIZATIONS
from edgevision.runtime.classifier import Classifier
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.runtime.images import decode_image
from edgevision.runtime.preprocess import Preprocessor
from edgevision.sources.capture import CaptureThread, LatestFrameSlot
from edgevision.sources.frame_sources import FrameSource
from edgevision.sources.reconnect import ReconnectPolicy


@dataclass(frozen=True)
class DoctorReport:
    runtime: dict[str, Any]
    checks: tuple[Check, ...]
    source: dict[str, Any] | None = None
    frame_age_ms: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "runtime": self.runtime, "source": self.source,
                "frame_age_ms": self.frame_age_ms, "checks": [c.to_dict() for c in self.checks]}


def tolerance(clf: Classifier) -> float:
    """How far a score may move between machines: two output quantization steps, or 1e-3 for floats."""
    return max(2.0 * clf.output_quant.scale, 1e-3)


def normalization_source(clf: Classifier, user_norm: str | None) -> str:
    art = clf.artifact
    if user_norm:
        return "--norm"
    if art.card is not None:
        return "model card"
    if clf.preprocessor.quant.dtype in ("uint8", "int8") and clf.preprocessor.quant.scale:
        return "input quantization" if art.metadata is None or not art.metadata.mean else "metadata"
    return "metadata"


def runtime_checks(clf: Classifier, user_norm: str | None = None, runs: int = 10) -> tuple[dict[str, Any], Check]:
    d = clf.describe()
    rng = np.random.default_rng(0)
    tensor = clf.preprocess(rng.integers(0, 256, (clf.spec.height, clf.spec.width, 3), dtype=np.uint8))
    clf.infer(tensor)
    t0 = time.perf_counter()
    for _ in range(runs):
        clf.infer(tensor)
    d["infer_ms"] = round((time.perf_counter() - t0) * 1e3 / runs, 3)
    d["normalization_from"] = normalization_source(clf, user_norm)
    inp = d["input"]
    size = f"{inp['shape'][2]}x{inp['shape'][1]}"
    return d, Check("runtime", "info", f"{d['runtime']} {d['runtime_version']}, delegate {d['delegate']}, "
                                       f"{d['threads']} threads; input {inp['dtype']} {size} ({d['preprocess']['mode']}"
                                       f", normalization from {d['normalization_from']}); infer {d['infer_ms']:.2f} ms")


def _variants(clf: Classifier, rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Scores under the usual misconfigurations, to name the cause of a reference mismatch."""
    spec, quant = clf.spec, clf.preprocessor.quant
    out = [("with R and B swapped (BGR frames)", clf.infer(clf.preprocessor(rgb[..., ::-1].copy())))]
    for crop in CROPS:
        if crop != spec.crop:
            out.append((f"with crop={crop} instead of {spec.crop}",
                        clf.infer(Preprocessor(replace(spec, crop=crop), quant)(rgb))))
    for norm in NORMALIZATIONS:
        alt = spec.with_normalization(norm)
        if (alt.mean, alt.std) != (spec.mean, spec.std):
            out.append((f"with --norm {norm}", clf.infer(Preprocessor(alt, quant)(rgb))))
    return out


def reference_checks(clf: Classifier) -> list[Check]:
    from edgevision.model.tflite_file import associated_files

    card = clf.artifact.card
    if card is None or not card.references:
        return [Check("reference images", "skip", "the model carries none (not exported by edgevision)")]
    files = associated_files(clf.artifact.data, str(clf.artifact.path))
    tol = tolerance(clf)
    out = []
    for ref in card.references:
        name = str(ref.get("file"))
        if name not in files:
            out.append(Check(f"reference {name}", "fail", "listed in the model card but missing from the file"))
            continue
        rgb = decode_image(files[name], name)
        expected = np.asarray(ref["scores"], np.float32)
        got = clf.scores(rgb)
        diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
        same_top = got.shape == expected.shape and int(np.argmax(got)) == int(np.argmax(expected))
        shape = f"{rgb.shape[1]}x{rgb.shape[0]}"
        if diff <= tol and same_top:
            out.append(Check(f"reference {name}", "pass", f"{shape} '{ref.get('label')}': scores match the desktop "
                                                          f"(max diff {diff:.4f} <= {tol:.4f})"))
            continue
        cause = next((what for what, s in _variants(clf, rgb)
                      if s.shape == expected.shape and float(np.max(np.abs(s - expected))) <= tol), None)
        why = f"; the desktop's scores reproduce {cause}" if cause else ""
        out.append(Check(f"reference {name}", "fail", f"{shape} '{ref.get('label')}': max score diff {diff:.4f} > "
                                                      f"{tol:.4f}, top class {'same' if same_top else 'differs'}{why}"))
    return out


def grab_frames(source: FrameSource, n: int, timeout_s: float,
                policy: ReconnectPolicy | None = None) -> tuple[SourceInfo, list[Frame], list[float], float]:
    """Up to ``n`` frames the way the pipeline gets them; also each frame's age when taken, and the
    rate the source delivered at (frames per second, measured)."""
    info = source.open()
    frames: list[Frame] = []
    ages: list[float] = []
    if not info.live:
        try:
            while len(frames) < n and (f := source.read()) is not None:
                frames.append(f)
        finally:
            source.close()
        return info, frames, [], 0.0
    slot, stop = LatestFrameSlot(), threading.Event()
    thread = CaptureThread(source, slot, stop, policy=policy or ReconnectPolicy(read_timeout=min(5.0, timeout_s)))
    t0 = time.monotonic()
    thread.start()
    try:
        while len(frames) < n and time.monotonic() - t0 < timeout_s:
            f = slot.take(timeout=0.5)
            if f is None:
                if slot.closed:
                    break
                continue
            ages.append((time.time() - f.t_capture) * 1e3)
            frames.append(f)
            time.sleep(0.03)  # like a model busy for a moment: frame age includes time spent in the slot
    finally:
        elapsed = time.monotonic() - t0
        stop.set()
        thread.join(timeout=2.0)
    return info, frames, ages, thread.frames / elapsed if elapsed > 0 else 0.0


def diagnose(clf: Classifier, source: FrameSource | None = None, frames: int = 20, timeout_s: float = 15.0,
             user_norm: str | None = None, on_step: Callable[[str], None] | None = None) -> DoctorReport:
    step = on_step or (lambda _: None)
    step("runtime")
    runtime, rcheck = runtime_checks(clf, user_norm)
    checks = [rcheck]
    step("reference images")
    checks += reference_checks(clf)
    if source is None:
        return DoctorReport(runtime, tuple(checks))
    step("live frames")
    info, got, ages, measured = grab_frames(source, frames, timeout_s)
    src = {**info.to_dict(), "frames": len(got), "measured_fps": round(measured, 2)}
    if not got:
        checks.append(Check("frames", "fail", f"{info.name}: no frame within {timeout_s:g} s"))
        return DoctorReport(runtime, tuple(checks), src)
    checks.append(Check("source", "info", f"{info.kind} {info.name}: {got[0].image.shape[1]}x{got[0].image.shape[0]}"
                                          f", delivered as {info.pixel_format}, reported {info.fps or '?'} FPS"
                                          + (f", measured {measured:.1f} FPS" if info.live else "")))
    images = [f.rgb() for f in got]  # in the order the pipeline feeds the model, whatever the source delivers
    checks += check_arrays(images)
    age: dict[str, float] = {}
    if ages:
        age = {"p50": round(float(np.percentile(ages, 50)), 1), "max": round(float(np.max(ages)), 1)}
        status = "warn" if age["p50"] > 1000 else "pass"
        checks.append(Check("frame age", status, f"p50 {age['p50']:.0f} ms, max {age['max']:.0f} ms from capture "
                                                 "to the model"))
    if all(c.status != "fail" for c in checks if c.name == "frame format"):
        checks += check_with_model(clf, images, normalization=normalization_source(clf, user_norm) == "--norm")
    return DoctorReport(runtime, tuple(checks), src, age)
