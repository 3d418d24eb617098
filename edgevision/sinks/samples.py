"""Keep frames worth labelling: the ones the model was unsure of, or saw while the camera drifted.

A frame is a candidate when its top-1 score is below ``below`` (low confidence), when the two best
scores are within ``margin`` of each other (a near-tie), or while the drift monitor says drifting. Of the
candidates, at most one is kept every ``every`` seconds, and not when it looks like one of the last few
kept (a 16x16 grey thumbnail within a few grey levels): a camera that stares at the same puzzling
scene for an hour keeps it once, not a thousand times. Kept frames go to a folder
(:mod:`edgevision.sinks.sample_store`) bounded by a count and megabytes, the oldest dropped first;
``edgevision device samples pull`` brings them to the desktop, sorted by predicted label, ready to be
corrected and folded into the next training run (``edgevision train DATA --add FOLDER``).

The pipeline thread only compares numbers and, for a candidate, makes the thumbnail (~20 µs); JPEG
encoding and the write happen in the sink's own thread, and a candidate that finds it busy is skipped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgevision.errors import BadInput
from edgevision.pipeline.events import LabelEvent
from edgevision.plainfile import write_file
from edgevision.runtime.frames import Frame
from edgevision.sinks.registry import SinkConfig, SinkContext
from edgevision.sinks.sample_store import Budget, append

if TYPE_CHECKING:
    from edgevision.pipeline.drift_event import DriftEvent

log = logging.getLogger("edgevision.samples")

THUMB = 16
SIMILAR = 4.0        # mean absolute difference of two thumbnails (grey levels) under which frames are alike
REMEMBER = 8         # thumbnails of the last kept frames compared with each candidate
MAX_WIDTH = 640      # kept frames are at most this wide (a 4K camera's frame would eat the budget)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(image, (THUMB, THUMB), interpolation=cv2.INTER_AREA if image.shape[1] < 200 else
                       cv2.INTER_LINEAR)
    return small.astype(np.float32).mean(axis=2) if small.ndim == 3 else small.astype(np.float32)


class SampleSink:
    """The ``samples`` sink: chooses frames on the pipeline thread, writes them on its own."""

    wants_frames = True

    def __init__(self, folder: Path, budget: Budget, every_s: float = 10.0, below: float = 0.5,
                 margin: float = 0.1) -> None:
        self.folder, self.budget = Path(folder), budget
        self.every_s, self.below, self.margin = every_s, below, margin
        self.name = f"samples:{self.folder}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"--samples {folder}: cannot create ({exc.strerror})") from None
        if not os.access(self.folder, os.W_OK):
            raise BadInput(f"--samples {folder}: not writable")
        self.kept = 0
        self.skipped_busy = 0
        self._drifting = False
        self._last_t = -1e18
        self._recent: list[np.ndarray] = []
        self._cond = threading.Condition()
        self._pending: tuple[Frame, dict[str, Any]] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name="edgevision-samples", daemon=True)
        self._thread.start()

    # pipeline thread ----------------------------------------------------------------------------------------------
    def reason(self, event: LabelEvent) -> str | None:
        """Why this frame is worth labelling, or None."""
        top = event.top_k
        first = top[0].score if top else 0.0
        if first < self.below:
            return "low_confidence"
        if len(top) > 1 and first - top[1].score < self.margin:
            return "near_tie"
        return "drift" if self._drifting else None

    def emit(self, event: LabelEvent, frame: Frame | None = None) -> None:
        if frame is None or self.budget.count <= 0 or event.t_emit - self._last_t < self.every_s:
            return
        why = self.reason(event)
        if why is None:
            return
        thumb = _thumbnail(frame.image)
        if any(float(np.abs(thumb - seen).mean()) < SIMILAR for seen in self._recent):
            return
        with self._cond:
            if self._pending is not None:
                self.skipped_busy += 1
                return
            self._pending = (frame, {
                "t": round(event.t_emit, 3), "frame": event.frame, "source": event.source[:512], "label": event.label,
                "index": event.index, "score": round(event.score, 4),
                "top_k": [p.to_dict() for p in event.top_k[:5]], "reason": why,
                "drift": "drifting" if self._drifting else "ok"})
            self._cond.notify_all()
        self._last_t = event.t_emit
        self._recent = [*self._recent[-(REMEMBER - 1):], thumb]

    def drift(self, event: DriftEvent) -> None:
        self._drifting = event.drifting

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until the frame handed over last is written (or ``timeout``); whether it is."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(10)

    # writer thread ------------------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                frame, entry = self._pending
            try:
                self._write(frame, entry)
            except OSError as exc:  # a full card: say it, keep labelling
                log.warning("sample not kept: %s", exc)
            finally:
                with self._cond:
                    self._pending = None
                    self._cond.notify_all()

    def _write(self, frame: Frame, entry: dict[str, Any]) -> None:
        import cv2

        image = frame.image
        if image.shape[1] > MAX_WIDTH:
            image = cv2.resize(image, (MAX_WIDTH, max(1, round(image.shape[0] * MAX_WIDTH / image.shape[1]))),
                               interpolation=cv2.INTER_AREA)
        if frame.order == "RGB" and image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise OSError("JPEG encoding failed")
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(entry["t"]))
        name = f"{stamp}-{entry['frame']}.jpg"
        for n in range(1, 100):
            if not (self.folder / name).exists():
                break
            name = f"{stamp}-{entry['frame']}-{n}.jpg"
        data = jpeg.tobytes()
        tmp = self.folder / f".{name}.{os.getpid()}.tmp"  # write_file's temporary, removed if the card is full
        try:
            write_file(self.folder / name, data)  # atomic, explicit mode, never through a planted link
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        append(self.folder, {"file": name, "bytes": len(data), **entry}, self.budget)
        self.kept += 1


def open_sink(config: SinkConfig, context: SinkContext) -> SampleSink:
    """The ``samples`` sink: frames worth labelling kept in ``--samples`` DIR within the budget."""
    return SampleSink(config.value("samples"), Budget(count=int(config.value("samples_max", 500)),
                                                      mb=float(config.value("samples_mb", 50))),
                      every_s=float(config.value("samples_every", 10.0)),
                      below=float(config.value("samples_below", 0.5)),
                      margin=float(config.value("samples_margin", 0.1)))
