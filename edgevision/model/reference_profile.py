"""A model's reference profile: what its inputs and outputs looked like on images it is known to handle.

The converter measures it on the held-out images it judges the model on (or a device records it from a
known-good period, ``edgevision device baseline``): for each signal (the top-1 confidence and cheap
statistics of each input frame: brightness, contrast, colour balance, sharpness) its percentiles, and the
mix of labels. It travels inside the model as the associated file ``edgevision_profile.json`` (or beside
it as a plain file) and is read on the device without TensorFlow like every document from outside
(:mod:`edgevision.documents`: a regular file, its size, nesting and numbers bounded before it is used).
The drift monitor (:mod:`edgevision.pipeline.drift`) compares a rolling window of live frames with it.
"""

from __future__ import annotations

import io
import json
import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from edgevision.documents import decode_json
from edgevision.errors import BadInput
from edgevision.limits import ROWS, limits
from edgevision.model.profile_signals import PROFILE_FILE, SIGNALS, THUMBNAIL
from edgevision.plainfile import make_dir, read_regular, write_file

FORMAT = "edgevision-profile/1"
MAX_PROFILE_BYTES = ROWS["profile_bytes"].default  # the limit's default (``limits().profile_bytes`` applies)
MAX_LABELS = 10_000
PERCENTILES = 101            # 0, 1, ..., 100
MIN_IMAGES = 10              # fewer than this says nothing about a distribution



@dataclass(frozen=True)
class SignalProfile:
    """One signal's reference distribution, as its 101 percentiles."""

    name: str
    count: int
    percentiles: tuple[float, ...]

    def quantile(self, p: float) -> float:
        """The value below which a fraction ``p`` of the reference lies (linear between percentiles)."""
        x = min(max(p, 0.0), 1.0) * (PERCENTILES - 1)
        i = min(int(x), PERCENTILES - 2)
        lo, hi = self.percentiles[i], self.percentiles[i + 1]
        return lo + (hi - lo) * (x - i)

    def mass_below(self, x: float) -> float:
        """Fraction of the reference strictly below ``x``."""
        q = self.percentiles
        if x <= q[0]:
            return 0.0
        if x > q[-1]:
            return 1.0
        i = bisect_left(q, x)  # q[i-1] < x <= q[i]
        return (i - 1 + (x - q[i - 1]) / (q[i] - q[i - 1])) / (PERCENTILES - 1)

    def mass_above(self, x: float) -> float:
        """Fraction of the reference strictly above ``x``."""
        q = self.percentiles
        if x >= q[-1]:
            return 0.0
        if x < q[0]:
            return 1.0
        j = bisect_right(q, x)  # q[j-1] <= x < q[j]
        return 1.0 - (j - 1 + (x - q[j - 1]) / (q[j] - q[j - 1])) / (PERCENTILES - 1)


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference a drift monitor compares live frames with."""

    signals: tuple[SignalProfile, ...]
    labels: tuple[str, ...]
    label_mix: tuple[float, ...]   # fraction of reference frames per label (the rest had no label)
    images: int
    origin: str                    # where it was measured ("converter: test split ...", "device baseline ...")
    created: str = ""
    thumbnail: int = THUMBNAIL

    def signal(self, name: str) -> SignalProfile | None:
        return next((s for s in self.signals if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "origin": self.origin, "created": self.created, "images": self.images,
                "thumbnail": self.thumbnail, "labels": list(self.labels),
                "label_mix": [round(v, 6) for v in self.label_mix],
                "signals": {s.name: {"count": s.count, "percentiles": [round(v, 6) for v in s.percentiles]}
                            for s in self.signals}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"

    def summary(self) -> dict[str, Any]:
        """What ``device status`` and ``info`` show: where it came from and the middle of each signal."""
        return {"origin": self.origin, "created": self.created, "images": self.images,
                "median": {s.name: round(s.quantile(0.5), 4) for s in self.signals}}

    @classmethod
    def from_json(cls, raw: bytes | str, origin: str) -> ReferenceProfile:
        """Parse and check a profile; BadInput naming ``origin`` for anything out of shape."""
        cap = limits().profile_bytes
        if len(raw) > cap:
            raise BadInput(f"{origin}: reference profile is {len(raw)} bytes, over the {cap} limit")
        data = decode_json(raw, Any, f"{origin} (reference profile)", cap)  # type: ignore[arg-type]
        if not isinstance(data, dict):
            raise BadInput(f"{origin}: reference profile must be a JSON object")
        if data.get("format") != FORMAT:
            raise BadInput(f"{origin}: not a reference profile of this edgevision (format "
                           f"{str(data.get('format'))[:40]!r}, expected {FORMAT!r})")
        labels, mix = data.get("labels", []), data.get("label_mix", [])
        if not isinstance(labels, list) or len(labels) > MAX_LABELS or \
                not all(isinstance(v, str) and len(v) <= 256 for v in labels):
            raise BadInput(f"{origin}: labels must be a list of at most {MAX_LABELS} names")
        if not isinstance(mix, list) or len(mix) != len(labels) or not all(_finite(v) and v >= 0 for v in mix) \
                or sum(mix) > 1.0 + 1e-3:
            raise BadInput(f"{origin}: label_mix must hold one fraction per label, summing to at most 1")
        signals_in = data.get("signals")
        if not isinstance(signals_in, dict) or not signals_in:
            raise BadInput(f"{origin}: signals must be a non-empty object")
        signals = []
        for name in SIGNALS:  # signals a newer edgevision adds are left out, not refused
            entry = signals_in.get(name)
            if entry is None:
                continue
            q = entry.get("percentiles") if isinstance(entry, dict) else None
            count = entry.get("count") if isinstance(entry, dict) else None
            if not isinstance(q, list) or len(q) != PERCENTILES or not all(_finite(v) for v in q) \
                    or any(b < a for a, b in pairwise(q)):
                raise BadInput(f"{origin}: signal {name}: percentiles must be {PERCENTILES} finite, "
                               "non-decreasing numbers")
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise BadInput(f"{origin}: signal {name}: count must be a positive integer")
            signals.append(SignalProfile(name, count, tuple(float(v) for v in q)))
        if not signals:
            raise BadInput(f"{origin}: no signal this edgevision knows ({', '.join(SIGNALS)})")
        images, thumb = data.get("images", 0), data.get("thumbnail", THUMBNAIL)
        if not isinstance(images, int) or isinstance(images, bool) or images < 0 or thumb != THUMBNAIL:
            raise BadInput(f"{origin}: images must be a count and thumbnail {THUMBNAIL}")
        text = {k: data.get(k, "") for k in ("origin", "created")}
        if not all(isinstance(v, str) and len(v) <= 512 for v in text.values()):
            raise BadInput(f"{origin}: origin and created must be short strings")
        return cls(tuple(signals), tuple(labels), tuple(float(v) for v in mix), images,
                   "".join(c for c in text["origin"] if c.isprintable()), text["created"][:40])


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def build_profile(values: Mapping[str, Sequence[float]], label_indices: Sequence[int], labels: Sequence[str],
                  origin: str) -> ReferenceProfile:
    """A profile from measured values: per signal its percentiles, and the mix of label indices (-1: none)."""
    import numpy as np

    signals = []
    for name in SIGNALS:
        column = np.asarray(values.get(name, ()), dtype=np.float64)
        column = column[np.isfinite(column)]
        if column.size < MIN_IMAGES:
            continue
        q = np.percentile(column, np.arange(PERCENTILES))
        signals.append(SignalProfile(name, int(column.size), tuple(float(v) for v in np.maximum.accumulate(q))))
    if not signals:
        raise BadInput(f"{origin}: fewer than {MIN_IMAGES} measured images; a reference profile needs more")
    n = len(label_indices)
    mix = [0.0] * len(labels)
    for i in label_indices:
        if 0 <= i < len(labels):
            mix[i] += 1.0
    return ReferenceProfile(tuple(signals), tuple(labels), tuple(v / n if n else 0.0 for v in mix),
                            max(s.count for s in signals), origin, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def profile_in_model(data: bytes, origin: str) -> ReferenceProfile | None:
    """The profile packed among a model's associated files, or None when it carries none. The zip's directory
    is bounded from its end record first; only that file is inflated, and only after its declared size
    passed the limit."""
    if data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22)) < 0:
        return None
    import zipfile

    from edgevision.model.zip_directory import check_directory

    lim = limits()
    check_directory(data, origin, lim.associated_files, lim.zip_directory_bytes)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            try:
                info = zf.getinfo(PROFILE_FILE)
            except KeyError:
                return None
            if info.file_size > lim.profile_bytes:
                raise BadInput(f"{origin}: {PROFILE_FILE} declares {info.file_size} bytes, over the "
                               f"{lim.profile_bytes} limit")
            with zf.open(info) as fh:
                raw = fh.read(lim.profile_bytes + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise BadInput(f"{origin}: {PROFILE_FILE} cannot be read ({type(exc).__name__})") from None
    return ReferenceProfile.from_json(raw, f"{origin}: {PROFILE_FILE}")


def read_profile(path: str | Path) -> ReferenceProfile:
    """A profile saved as a file (``device baseline``, ``--drift-profile``): a regular file (a FIFO or a device
    is refused without blocking), its size checked before it is read."""
    cap = limits().profile_bytes
    raw = read_regular(path, "reference profile", cap, f"over the {cap} limit")
    return ReferenceProfile.from_json(raw, str(path))


def write_profile(profile: ReferenceProfile, path: Path) -> None:
    """Atomically, with explicit modes: a reader (the service starting) sees the old profile or the new one,
    never half of one."""
    make_dir(path.parent)
    write_file(path, profile.to_json())
