"""The device's folder of frames worth labelling: JPEG files and one index line per sample, bounded.

Layout of the folder (``ROOT/samples`` for the service)::

    samples.jsonl      one JSON object per kept frame, oldest first: file, time, frame, source, label,
                       index, score, top_k, reason (low_confidence | near_tie | drift), drift state, bytes
    <time>-<frame>.jpg the frames

The writer (the ``samples`` sink) and ``edgevision device samples export/clear`` take the folder's lock
for every change, so a pull never reads half an index and a clear never loses a new sample. Past its
budget (a count and megabytes), the oldest samples are deleted: the folder rotates and never grows. The
index is read back bounded: at most ``document_bytes`` of it (its end), each line decoded against its
schema (:mod:`edgevision.sinks.sample_schema`), a file named twice kept once, at most ``samples`` entries,
and only entries whose file is a regular file (not a link planted in the folder, a FIFO or a device).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput
from edgevision.limits import limits
from edgevision.plainfile import FILE_MODE, make_dir, open_append, open_regular, write_file

INDEX = "samples.jsonl"
LOCK = ".lock"
# the same pattern as sample_schema.FILE_PATTERN (that module needs msgspec; this one is read at every start)
FILE_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9]{1,12}(-[0-9]{1,3})?\.jpg$")
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
    make_dir(folder)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_index(folder: Path) -> list[dict[str, Any]]:
    """The valid entries of the index whose files are regular files here, oldest first (call with the lock
    held); at most ``samples`` of them, the newest."""
    try:
        fh = open_regular(folder / INDEX, "samples index", follow=False)
    except BadInput:
        return []  # none yet, or something that is not an index (a link, a FIFO): nothing to read back
    cap = limits().document_bytes
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > cap:
            fh.seek(size - cap)
        data = fh.read(cap)
    lines = data.split(b"\n")
    if size > cap:
        lines = lines[1:]  # cut by the window
    return [e for e in parse_index(lines) if _is_file(folder / e["file"])]


def parse_index(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """Index lines decoded against :class:`~edgevision.sinks.sample_schema.SampleDoc`, in order, a line that is
    not one (cut by a crash mid-write, or planted) skipped; a file named twice keeps its last entry; the newest
    ``samples`` entries at most."""
    import msgspec

    from edgevision.sinks.sample_schema import SampleDoc

    decoder = msgspec.json.Decoder(SampleDoc, strict=True)
    entries: dict[str, dict[str, Any]] = {}
    most = limits().samples
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = msgspec.to_builtins(decoder.decode(line))
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            continue
        entries.pop(entry["file"], None)
        entries[entry["file"]] = entry
        if len(entries) > most:
            del entries[next(iter(entries))]
    return list(entries.values())


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def write_index(folder: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the index (atomically; call with the lock held)."""
    write_file(folder / INDEX, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), FILE_MODE)


def append(folder: Path, entry: dict[str, Any], budget: Budget) -> list[str]:
    """Add one sample's index line (its file is already in place); drop the oldest past the budget.
    Returns the files deleted."""
    with locked(folder):
        with open_append(folder / INDEX) as fh:
            fh.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
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
    if not _is_file(folder / INDEX):
        return 0
    with locked(folder):
        entries = read_index(folder)
        keep = [e for e in entries if upto is not None and e["t"] > upto]
        kept = {e["file"] for e in keep}
        for e in entries:
            if e["file"] not in kept:
                with contextlib.suppress(FileNotFoundError):
                    (folder / e["file"]).unlink()
        write_index(folder, keep)
        return len(entries) - len(keep)


def summary(folder: Path) -> dict[str, Any]:
    """Count, size and reasons of the kept samples (``device status``)."""
    if not _is_file(folder / INDEX):
        return {"folder": str(folder), "count": 0, "mb": 0.0, "reasons": {}}
    with locked(folder):
        entries = read_index(folder)
    reasons: dict[str, int] = {}
    for e in entries:
        reason = str(e.get("reason", ""))[:32]
        reasons[reason] = reasons.get(reason, 0) + 1
    return {"folder": str(folder), "count": len(entries), "mb": round(sum(e["bytes"] for e in entries) / MB, 2),
            "reasons": reasons, "newest": max((e["t"] for e in entries), default=None)}
