"""The device's folder of frames worth labelling: JPEG files and one index line per sample, bounded.

Layout of the folder (``ROOT/samples`` for the service)::

    samples.jsonl      one JSON object per kept frame, oldest first: file, time, frame, source, label,
                       index, score, top_k, reason (low_confidence | near_tie | drift), drift state, bytes
    <time>-<frame>.jpg the frames

The writer (the ``samples`` sink) and ``edgevision device samples export/clear`` take the folder's lock
for every change, so a pull never reads half an index and a clear never loses a new sample. Past its
budget (a count and megabytes), the oldest samples are deleted: the folder rotates and never grows. The
index is read back with its size checked first and every entry checked (a plain file name that exists).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDEX = "samples.jsonl"
LOCK = ".lock"
FILE_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9]{1,12}(-[0-9]{1,3})?\.jpg$")
MAX_INDEX_BYTES = 64 * 1024 * 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class Budget:
    """At most ``count`` samples and ``mb`` megabytes; a full folder drops down to ``low`` of both."""

    count: int = 500
    mb: float = 50.0
    low: float = 0.9

    @property
    def bytes(self) -> int:
        return int(self.mb * MB)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """The folder's lock (flock on ``.lock``), held for one change or one consistent read."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_index(folder: Path) -> list[dict[str, Any]]:
    """The valid entries of the index whose files exist, oldest first (call with the lock held)."""
    path = folder / INDEX
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(min(size, MAX_INDEX_BYTES))
    except FileNotFoundError:
        return []
    entries = []
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash mid-write
        if isinstance(entry, dict) and valid_entry(entry) and (folder / entry["file"]).is_file():
            entries.append(entry)
    return entries


def valid_entry(entry: dict[str, Any]) -> bool:
    file, size, t = entry.get("file"), entry.get("bytes"), entry.get("t")
    return isinstance(file, str) and bool(FILE_NAME.match(file)) and isinstance(size, int) and size >= 0 \
        and isinstance(t, int | float)


def write_index(folder: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the index (atomically; call with the lock held)."""
    tmp = folder / f".{INDEX}.{os.getpid()}.tmp"
    tmp.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8")
    os.replace(tmp, folder / INDEX)


def append(folder: Path, entry: dict[str, Any], budget: Budget) -> list[str]:
    """Add one sample's index line (its file is already in place); drop the oldest past the budget.
    Returns the files deleted."""
    with locked(folder):
        with open(folder / INDEX, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        entries = read_index(folder)
        if len(entries) <= budget.count and sum(e["bytes"] for e in entries) <= budget.bytes:
            return []
        return _drop_oldest(folder, entries, int(budget.count * budget.low), int(budget.bytes * budget.low))


def _drop_oldest(folder: Path, entries: list[dict[str, Any]], count: int, size: int) -> list[str]:
    total = sum(e["bytes"] for e in entries)
    dropped = []
    while entries and (len(entries) > count or total > size):
        old = entries.pop(0)
        total -= old["bytes"]
        with contextlib.suppress(FileNotFoundError):
            (folder / old["file"]).unlink()
        dropped.append(old["file"])
    write_index(folder, entries)
    return dropped


def clear(folder: Path, upto: float | None = None) -> int:
    """Delete the samples taken at or before ``upto`` (all when None); how many went."""
    if not (folder / INDEX).is_file():
        return 0
    with locked(folder):
        entries = read_index(folder)
        keep = [e for e in entries if upto is not None and e["t"] > upto]
        for e in entries:
            if e not in keep:
                with contextlib.suppress(FileNotFoundError):
                    (folder / e["file"]).unlink()
        write_index(folder, keep)
        return len(entries) - len(keep)


def summary(folder: Path) -> dict[str, Any]:
    """Count, size and reasons of the kept samples (``device status``)."""
    if not (folder / INDEX).is_file():
        return {"folder": str(folder), "count": 0, "mb": 0.0, "reasons": {}}
    with locked(folder):
        entries = read_index(folder)
    reasons: dict[str, int] = {}
    for e in entries:
        reason = str(e.get("reason", ""))[:32]
        reasons[reason] = reasons.get(reason, 0) + 1
    return {"folder": str(folder), "count": len(entries), "mb": round(sum(e["bytes"] for e in entries) / MB, 2),
            "reasons": reasons, "newest": max((e["t"] for e in entries), default=None)}
