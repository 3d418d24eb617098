"""The whole path, source -> label: FPS and glass-to-label latency per stage.

``invoke()`` latency says what the model costs; a user sees the pipeline: capture,
preprocess, inference, postprocess and the wait in the latest-frame slot. This runs the
project's real run (:class:`~edgevision.session.run.Run`) unchanged on a synthetic
camera (noise frames of a chosen size; pulled as fast as the model takes them, or paced
like a camera at a frame rate, with stale frames dropped) or on a video/folder source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.bench.latency import LatencyStats, has_normalization
from edgevision.errors import BadInput
from edgevision.model.artifact import load_artifact
from edgevision.pipeline.realtime import PipelineOptions
from edgevision.redact import without_userinfo
from edgevision.runtime.backends import BackendConfig
from edgevision.runtime.frames import Frame, SourceInfo
from edgevision.session.config import RunConfig, SourceConfig
from edgevision.session.run import Run
from edgevision.sources.frame_sources import FrameSource, open_source

STAGES = ("capture", "preprocess", "infer", "post")


@dataclass(frozen=True)
class PipelineSpec:
    """What to feed the pipeline: ``synthetic`` (or ``synthetic:WxH``) or a video/folder/URL source."""

    source: str = "synthetic"
    frames: int = 100
    fps: float = 0.0        # > 0: paced like a camera at this rate (frames dropped when the model is slower)
    warmup: int = 5         # first frames excluded from the statistics (interpreter and caches warming up)


class SyntheticSource:
    """Camera-sized noise frames, generated once and handed out in turn (capture costs ~nothing)."""

    live = False

    def __init__(self, width: int = 640, height: int = 480, frames: int | None = None, fps: float | None = None,
                 seed: int = 0) -> None:
        self.width, self.height, self.limit, self.fps = width, height, frames, fps
        rng = np.random.default_rng(seed)
        self._images = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(4)]
        self._count = 0

    def open(self) -> SourceInfo:
        self._count = 0
        return SourceInfo(name=f"synthetic {self.width}x{self.height}", kind="synthetic", live=False,
                          fps=self.fps or None, width=self.width, height=self.height)

    def read(self) -> Frame | None:
        if self.limit is not None and self._count >= self.limit:
            return None
        t0 = time.perf_counter()
        image = self._images[self._count % len(self._images)]
        frame = Frame(image, self._count, "synthetic", time.time(), (time.perf_counter() - t0) * 1e3)
        self._count += 1
        return frame

    def close(self) -> None:
        """Nothing to release."""


def make_source(spec: PipelineSpec) -> FrameSource:
    text = spec.source
    if text == "synthetic" or text.startswith("synthetic:"):
        size = text.partition(":")[2] or "640x480"
        try:
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise BadInput(f"--source {text!r}: expected synthetic or synthetic:WIDTHxHEIGHT") from None
        if w <= 0 or h <= 0:
            raise BadInput(f"--source {text!r}: width and height must be positive")
        return SyntheticSource(w, h, frames=None, fps=spec.fps or None)
    if not Path(text).exists() and "://" not in text and not text.isdigit():
        raise BadInput(f"--source {text}: not found (give synthetic[:WxH], a video, a folder or a camera index)")
    return open_source(text, loop=True)


def bench_pipeline(model: str | Path, spec: PipelineSpec, threads: int | None = None, delegate: str | None = None,
                   labels: str | Path | None = None, normalization: str | None = None) -> dict[str, Any]:
    """Run ``spec.warmup + spec.frames`` frames through a run as ``edgevision run`` makes it (the same
    :class:`~edgevision.session.run.Run`, no sinks); FPS, latency and stage timings."""
    art = load_artifact(model, labels)
    if normalization is None and not has_normalization(art):
        normalization = "raw"  # as in bench_model: timing does not depend on it
    realtime = spec.fps > 0
    config = RunConfig(SourceConfig(make_source(spec)),
                       BackendConfig(model=model, labels=Path(labels) if labels else None, threads=threads,
                                     delegate=delegate, normalization=normalization),
                       PipelineOptions(realtime=realtime, max_frames=spec.warmup + spec.frames), quiet=True)
    with Run(config) as session:
        events = list(session.events())
        stats = session.stats
        info = session.backend.info if session.backend is not None else None
    kept = events[spec.warmup:]
    if len(kept) < 2:
        raise BadInput(f"{without_userinfo(spec.source)}: the pipeline delivered {len(events)} frames, too few to "
                       f"measure ({spec.warmup} warm-up + at least 2)")
    span = kept[-1].t_emit - kept[0].t_emit
    return {
        "source": stats.source.name if stats.source else without_userinfo(spec.source),
        "mode": "paced" if realtime else "pulled",
        "source_fps": spec.fps or None, "frames": len(kept), "warmup": spec.warmup,
        "dropped": stats.dropped, "fps": round((len(kept) - 1) / span, 3) if span > 0 else None,
        "threads": info.threads if info is not None else threads,
        "latency": LatencyStats.of([e.latency_ms for e in kept]).to_dict(),
        "stages": {s: LatencyStats.of([e.ms.get(s, 0.0) for e in kept]).to_dict() for s in STAGES},
    }
