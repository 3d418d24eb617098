"""A camera-like MJPEG clip, the bare rates of decoding it and of invoking a model, and the small model
whose invoke a decode outweighs on the machine at hand (experiments/runtime_frames.py, readahead_nap.py)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.lib.models import mobilenet_v2
from edgevision.sources.frame_sources import DECODE_THREADS


def make_clip(path: Path, frames: int, width: int = 640, height: int = 480) -> None:
    """A camera-like MJPEG AVI: a smooth scene that moves, so JPEG sizes and decode cost are realistic."""
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (height * 2, width * 2, 3), dtype=np.uint8), (0, 0), 6)
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (width, height))
    for i in range(frames):
        x, y = (7 * i) % width, (3 * i) % height
        writer.write(np.ascontiguousarray(base[y:y + height, x:x + width]))
    writer.release()


def decode_fps(clip: Path, threads: int | None = None) -> float:
    """A bare cap.read() loop over the clip: with FFmpeg's own thread count (what the examples get), or
    ``threads`` decoder threads (edgevision decodes a file with ``DECODE_THREADS``)."""
    import cv2

    params = [] if threads is None else [cv2.CAP_PROP_N_THREADS, threads]
    cap = cv2.VideoCapture(str(clip), cv2.CAP_ANY, params)
    n, t0 = 0, time.perf_counter()
    while cap.read()[0]:
        n += 1
    cap.release()
    return n / (time.perf_counter() - t0)


def invoke_fps(interp, runs: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(5):
        interp.invoke()
    t0 = time.perf_counter()
    for _ in range(runs):
        interp.invoke()
    return runs / (time.perf_counter() - t0)


DOMINATES = 2.0  # decoding dominates when a frame's decode takes at least this many invokes
SMALL = ((96, 0.35), (64, 0.35), (48, 0.35))  # MobileNetV2 (px, alpha), largest first


def decode_dominated(clip: Path, threads: int) -> tuple[Path, list[tuple[Path, float]], float]:
    """The largest small model whose invoke is at most 1/DOMINATES of a decode here (else the smallest),
    with 1/invoke of each candidate timed and 1/decode (best of two reads of the clip)."""
    from ai_edge_litert.interpreter import Interpreter

    decode = max(decode_fps(clip), decode_fps(clip, DECODE_THREADS))
    timed: list[tuple[Path, float]] = []
    for size, alpha in SMALL:
        model = mobilenet_v2(size, alpha)["int8"]
        it = Interpreter(model_path=str(model), num_threads=threads)
        it.allocate_tensors()
        timed.append((model, invoke_fps(it, 300)))
        if timed[-1][1] >= DOMINATES * decode:
            return model, timed, decode
    return timed[-1][0], timed, decode
