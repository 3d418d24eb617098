"""``edgevision data check``: what is in a dataset and what training will do about it.

Every file is hashed (duplicates by content, also across splits and labels: a leak between
train and test inflates accuracy) and decoded with the runtime's own decoder (what fails
here is what training skips). The header tells the pixel format: grayscale, CMYK,
transparency and EXIF rotation are all converted to upright RGB by that decoder, the same
way on the device, so they are reported as facts, not failures.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.data.discover import discover
from edgevision.data.shards import PIXELS, is_shard_dir, open_shards
from edgevision.errors import BadInput
from edgevision.runtime.images import decode_image

GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
HANDLING = {
    "unreadable": "skipped and counted by training (listed in run.json)",
    "grayscale": "decoded to RGB (gray copied to 3 channels), as on the device",
    "cmyk": "decoded to RGB by the runtime's decoder, as on the device",
    "alpha": "transparency dropped (the stored colors are used), as on the device",
    "exif_rotated": "turned upright from the EXIF orientation, as on the device",
    "tiny": "upscaled to the input size (little detail: check they are useful)",
    "duplicates": "trained on as they are; remove copies that cross splits (they inflate test accuracy)",
}


@dataclass(frozen=True)
class FileFacts:
    name: str
    split: str
    label: int
    sha256: str = ""
    width: int = 0
    height: int = 0
    mode: str = ""
    fmt: str = ""
    alpha: bool = False
    rotated: bool = False
    error: str = ""


def inspect_bytes(raw: bytes, name: str, split: str, label: int) -> FileFacts:
    """Hash, header facts and a real decode of one encoded image."""
    sha = hashlib.sha256(raw).hexdigest()
    mode, fmt, alpha, rotated = "", "", False, False
    try:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(raw)) as im:
                mode, fmt = im.mode, str(im.format or "")
                alpha = mode in ALPHA_MODES or (mode == "P" and "transparency" in im.info)
                rotated = int(im.getexif().get(0x0112, 1) or 1) != 1
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            pass  # the decode below is the verdict; PIL only describes
    except ImportError:  # Pillow comes with matplotlib; without it only the decode verdict is given
        pass
    try:
        rgb = decode_image(raw, name)
    except BadInput as exc:
        return FileFacts(name, split, label, sha, mode=mode, fmt=fmt, error=str(exc))
    h, w = rgb.shape[:2]
    return FileFacts(name, split, label, sha, w, h, mode, fmt, alpha, rotated)


def _folder_jobs(root: Path) -> tuple[tuple[str, ...], dict[str, list[int]], list[tuple[str, str, int]]]:
    ds = discover(root, 0.0, 0.0)  # no seeded split: report the folders as they are
    jobs = [(s.path, name, s.label) for name in ("train", "val", "test") for s in ds.split(name)]
    return ds.classes, ds.counts(), jobs


def _read_and_inspect(job: tuple[str, str, int]) -> FileFacts:
    path, split, label = job
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return FileFacts(path, split, label, error=f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})")
    return inspect_bytes(raw, path, split, label)


def _windowed(fn: Callable[[Any], FileFacts], jobs: Iterable[Any], threads: int) -> Iterator[FileFacts]:
    """Map with a few threads (OpenCV releases the GIL) and a bounded read-ahead."""
    window: list[Any] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for job in jobs:
            window.append(job)
            if len(window) >= threads * 32:
                yield from pool.map(fn, window)
                window = []
        yield from pool.map(fn, window)


def check_dataset(path: str | Path, min_size: int = 32, threads: int = 4,
                  on_file: Callable[[], None] | None = None, on_total: Callable[[int], None] | None = None
                  ) -> dict[str, Any]:
    """Inspect a folder dataset or a shard directory; a JSON-ready report."""
    root = Path(path)
    if is_shard_dir(root):
        shards = open_shards(root)
        classes, counts = shards.classes, shards.counts()
        if shards.content == PIXELS:
            raise BadInput(f"{root}: shards hold pre-resized pixels; check the source folder instead "
                           f"({shards.source})")
        from edgevision.data.shard_extract import records

        total = sum(s.count for s in shards.splits.values())
        facts_iter: Iterable[FileFacts] = _windowed(
            lambda job: inspect_bytes(*job), ((payload, f"{name}:{fname}", name, label)
                                              for name, split in shards.splits.items()
                                              for payload, fname, label in records(split)), threads)
        kind = "shards"
    else:
        classes, counts, jobs = _folder_jobs(root)
        total = len(jobs)
        facts_iter = _windowed(_read_and_inspect, jobs, threads)
        kind = "folder"
    if on_total:
        on_total(total)
    facts: list[FileFacts] = []
    for f in facts_iter:
        facts.append(f)
        if on_file:
            on_file()
    return summarize(root, kind, classes, counts, facts, min_size)


def summarize(root: Path, kind: str, classes: tuple[str, ...], counts: dict[str, list[int]],
              facts: list[FileFacts], min_size: int) -> dict[str, Any]:
    ok = [f for f in facts if not f.error]
    by_hash: dict[str, list[FileFacts]] = {}
    for f in facts:
        if f.sha256:
            by_hash.setdefault(f.sha256, []).append(f)
    dups = []
    for sha, group in by_hash.items():
        if len(group) > 1:
            dups.append({"sha256": sha, "files": [g.name for g in group], "splits": sorted({g.split for g in group}),
                         "labels": sorted({classes[g.label] for g in group})})
    dups.sort(key=lambda d: (-len(d["files"]), d["files"][0]))
    train = [c for c in counts.get("train", []) if c > 0]
    sizes = np.array([[f.width, f.height] for f in ok]) if ok else np.zeros((0, 2))
    report: dict[str, Any] = {
        "root": str(root), "kind": kind, "classes": list(classes), "files": len(facts), "counts": counts,
        "per_class": {c: {s: counts[s][i] for s in ("train", "val", "test")} for i, c in enumerate(classes)},
        "imbalance": {"ratio": round(max(train) / min(train), 3) if train else 0.0,
                      "largest": classes[int(np.argmax(counts["train"]))] if train else "",
                      "smallest": classes[int(np.argmin(counts["train"]))] if train else ""},
        "empty_classes": {s: [classes[i] for i, n in enumerate(v) if n == 0] for s, v in counts.items()
                          if any(v) and not all(v)},
        "unreadable": [{"file": f.name, "reason": f.error} for f in facts if f.error],
        "duplicates": dups,
        "duplicates_across_splits": sum(1 for d in dups if len(d["splits"]) > 1),
        "duplicates_with_conflicting_labels": sum(1 for d in dups if len(d["labels"]) > 1),
        "tiny": [{"file": f.name, "width": f.width, "height": f.height} for f in ok
                 if min(f.width, f.height) < min_size],
        "grayscale": [f.name for f in ok if f.mode in GRAY_MODES],
        "cmyk": [f.name for f in ok if f.mode == "CMYK"],
        "alpha": [f.name for f in ok if f.alpha],
        "exif_rotated": [f.name for f in ok if f.rotated],
        "formats": dict(Counter(f.fmt or "unknown" for f in ok).most_common()),
        "image_size": {k: [int(v) for v in fn(sizes, axis=0)] for k, fn in
                       (("min", np.min), ("median", np.median), ("max", np.max))} if len(sizes) else {},
        "min_size": min_size, "handling": HANDLING,
    }
    report["problems"] = {k: len(report[k]) for k in ("unreadable", "duplicates", "tiny", "grayscale", "cmyk",
                                                      "alpha", "exif_rotated")}
    return report


def severe(report: dict[str, Any]) -> list[str]:
    """What ``--strict`` fails on: data that would be skipped or would leak between splits."""
    out = []
    if report["unreadable"]:
        out.append(f"{len(report['unreadable'])} unreadable file(s)")
    if report["duplicates_across_splits"]:
        out.append(f"{report['duplicates_across_splits']} duplicate group(s) across splits")
    if report["duplicates_with_conflicting_labels"]:
        out.append(f"{report['duplicates_with_conflicting_labels']} duplicate group(s) with different labels")
    return out
