"""Drift: is the camera still seeing the world the model was checked on?

A rolling window of the latest frames is compared with the model's reference profile
(:mod:`edgevision.model.reference_profile`), signal by signal: the top-1 confidence and the input
statistics of each frame (brightness, contrast, red and blue share, sharpness), plus the label mix.

The statistic is the population stability index, PSI = Σ (w − r)·ln(w / r), over three bins per signal:
below the reference's range, inside it, above it (r are the reference's shares of those bins, at least
0.1 %, w the window's, with half a count added to each bin). The range is Tukey's: from the first quartile
minus ``fence`` interquartile ranges to the third quartile plus as many (3, "far out", for the input
statistics; 1.5 for the confidence), but never more than ``beyond`` IQR past the smallest and largest
value the reference had (a varied reference would otherwise stretch the range past anything seen).

A camera watches one scene at a time, so a window is far narrower than the varied images a profile is
measured on: bins that split the reference into deciles, or even its 1 % tails, would call many a steady
scene a drift. Three bins with wide fences ask what matters instead: do the frames leave the range the
model was checked on? A window inside scores near 0; with a fifth of its frames outside it scores about
1, entirely outside about 12.

The state is ``ok`` or ``drifting``, with hysteresis: it turns ``drifting`` when a watched signal's PSI
reaches ``threshold`` and back to ``ok`` only when every one is below ``threshold × release``, and it says
nothing before ``min_frames`` frames filled the window. The label mix is measured and exported but does
not raise the state by default: a camera that sees one class all afternoon is not drifting. The defaults
come from ``benchmarks/suites/bench_drift.py`` (see the monitoring page of the docs for its numbers).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from edgevision.documents import read_json
from edgevision.errors import BadInput
from edgevision.model.profile_signals import CONFIDENCE, INPUT_SIGNALS, LABELS
from edgevision.model.reference_profile import ReferenceProfile
from edgevision.pipeline.drift_config import DriftConfig
from edgevision.pipeline.drift_event import DriftEvent
from edgevision.pipeline.events import LabelEvent
from edgevision.plainfile import write_file
from edgevision.runtime.frames import Frame
from edgevision.runtime.input_stats import input_stats

__all__ = ["DriftConfig", "DriftMonitor", "psi", "read_state"]

OK, DRIFTING = "ok", "drifting"
MIN_SHARE = 1e-3        # a reference bin's share is at least this (a bin the reference never filled)
STATE_EVERY_S = 60.0    # the state file is rewritten on each change and at least this often


def psi(window: list[int], n: int, reference: tuple[float, ...]) -> float:
    """Population stability index of ``window`` (counts per bin, ``n`` in all) against ``reference`` shares."""
    bins = len(reference)
    total = n + 0.5 * bins
    value = 0.0
    for count, ref in zip(window, reference, strict=True):
        w = (count + 0.5) / total
        r = ref if ref > MIN_SHARE else MIN_SHARE
        value += (w - r) * math.log(w / r)
    return value


class _Signal:
    """One continuous signal's bins: its range, the reference's shares and the window's codes."""

    __slots__ = ("codes", "counts", "hi", "lo", "name", "reference", "slot")

    def __init__(self, name: str, slot: int, lo: float, hi: float, reference: tuple[float, float, float],
                 window: int) -> None:
        self.name, self.slot, self.lo, self.hi, self.reference = name, slot, lo, hi, reference
        self.codes = bytearray([1] * window)
        self.counts = [0, 0, 0]


class DriftMonitor:
    """Feeds each frame's signals into the window and judges it every ``every`` frames.

    :meth:`observe` returns a :class:`DriftEvent` when it judged (``changed`` set when the state flipped),
    else None. Per frame: the input statistics of a 64x64 copy and a few integer updates (~70 µs for a
    640x480 frame on the development machine)."""

    def __init__(self, profile: ReferenceProfile, config: DriftConfig | None = None, name: str = "model") -> None:
        self.config = c = config or DriftConfig()
        c.check()
        self.profile, self.name = profile, name
        slots = {CONFIDENCE: 0, **{s: i + 1 for i, s in enumerate(INPUT_SIGNALS)}}
        self.signals: list[_Signal] = []
        for s in profile.signals:
            q1, q3 = s.quantile(0.25), s.quantile(0.75)
            iqr = q3 - q1
            k = c.confidence_fence if s.name == CONFIDENCE else c.fence
            lo = max(q1 - k * iqr, s.quantile(0.0) - c.beyond * iqr)
            hi = min(q3 + k * iqr, s.quantile(1.0) + c.beyond * iqr)
            below, above = s.mass_below(lo), s.mass_above(hi)
            self.signals.append(_Signal(s.name, slots[s.name], lo, hi, (below, max(0.0, 1 - below - above), above),
                                        c.window))
        self.inputs = any(s.slot > 0 for s in self.signals)
        k = len(profile.labels)
        self.label_reference = (*profile.label_mix, max(0.0, 1.0 - sum(profile.label_mix)))  # the last: no label
        self.label_codes = [k] * c.window
        self.label_counts = [0] * (k + 1)
        self.names = tuple(s.name for s in self.signals) + ((LABELS,) if k else ())
        self.n = 0           # frames in the window
        self.seen = 0        # frames observed
        self.pos = 0
        self.state = OK
        self.last: DriftEvent | None = None
        self._saved_at = 0.0
        self._since = 0.0    # when the state last flipped (or the first verdict)

    def observe(self, event: LabelEvent, frame: Frame | None) -> DriftEvent | None:
        image = frame.image if frame is not None else None
        stats = input_stats(image, frame.order) if self.inputs and image is not None and frame is not None else None
        top = event.top_k
        confidence = top[0].score if top else event.score
        return self.observe_values(confidence, event.index, stats, event.frame, event.source, event.t_emit)

    def observe_values(self, confidence: float, index: int, stats: tuple[float, ...] | None, frame: int = 0,
                       source: str = "", t: float = 0.0) -> DriftEvent | None:
        """The same for values measured elsewhere (a benchmark replays measured frames through this)."""
        c = self.config
        pos = self.pos
        full = self.n == c.window
        for s in self.signals:
            slot = s.slot
            if slot == 0:
                value = confidence
            elif stats is not None:
                value = stats[slot - 1]
            else:
                value = s.lo  # no image (a sensor that sends only scores): counts as in range
            code = 0 if value < s.lo else 2 if value > s.hi else 1
            if full:
                s.counts[s.codes[pos]] -= 1
            s.codes[pos] = code
            s.counts[code] += 1
        k = len(self.label_counts) - 1
        label = index if 0 <= index < k else k
        if full:
            self.label_counts[self.label_codes[pos]] -= 1
        self.label_codes[pos] = label
        self.label_counts[label] += 1
        self.pos = pos + 1 if pos + 1 < c.window else 0
        if not full:
            self.n += 1
        self.seen += 1
        if self.n < c.min_frames or (self.seen - c.min_frames) % c.every:
            return None
        return self._judge(frame, source, t)

    def _judge(self, frame: int, source: str, t: float) -> DriftEvent:
        c = self.config
        values = {s.name: psi(s.counts, self.n, s.reference) for s in self.signals}
        if len(self.label_counts) > 1:
            values[LABELS] = psi(self.label_counts, self.n, self.label_reference)
        watched = [name for name in c.alarm if name in values]
        bar = c.threshold if self.state == OK else c.threshold * c.release
        moved = tuple(name for name in watched if values[name] >= bar)
        before = self.state
        self.state = DRIFTING if moved else OK
        event = DriftEvent(frame, source, t, self.state, self.state != before, values, moved, self.n, c.threshold,
                           self.name)
        if event.changed or self.last is None:
            self._since = t or time.time()
        self.last = event
        if c.state_file is not None and (event.changed or time.monotonic() - self._saved_at > STATE_EVERY_S):
            self._save(event, c.state_file)
        return event

    def _save(self, event: DriftEvent, path: Path) -> None:
        self._saved_at = time.monotonic()
        record = {**event.to_dict(), "since": self._since, "updated": time.time(),
                  "profile_origin": self.profile.origin}
        record["psi"] = {k: v if math.isfinite(v) else None for k, v in record["psi"].items()}
        try:
            write_file(path, json.dumps(record, allow_nan=False) + "\n")
        except (OSError, ValueError):
            pass  # a full disk must not stop the labels; the state is also in the labels log


def read_state(path: Path, problems: list[str] | None = None) -> dict[str, object] | None:
    """The state a service's monitor last saved (``device status``), or None: none yet, or a file that is not
    one (torn, mistyped, not a regular file), whose one-line reason is added to ``problems``."""
    import msgspec

    from edgevision.pipeline.drift_schema import DriftStateDoc

    if not os.path.lexists(path):
        return None
    try:
        doc = read_json(path, DriftStateDoc, "drift state", max_bytes=64 * 1024)
    except BadInput as exc:
        if problems is not None:
            problems.append(f"{exc}; no verdict shown")
        return None
    return msgspec.to_builtins(doc)
