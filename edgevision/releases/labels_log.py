"""The service's labels file: where it stands, the first new label after a restart, recent FPS, rotation.

``edgevision run --out`` appends complete JSON lines (one flush per event), so a line without
its newline is still being written and is never read as a label. Lines are decoded by the one
document reader (``edgevision.documents``): bounded, and a line that is not an event is skipped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.documents import LogTail, read_log_tail
from edgevision.errors import CheckFailed
from edgevision.limits import limits


@dataclass(frozen=True)
class Mark:
    """A position in the labels file: only lines written after it count as new."""

    inode: int
    size: int


def mark(path: Path) -> Mark:
    try:
        st = path.stat()
        return Mark(st.st_ino, st.st_size)
    except FileNotFoundError:
        return Mark(0, 0)


def _new_lines(path: Path, since: Mark) -> list[str]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return []
    start = since.size if st.st_ino == since.inode and st.st_size >= since.size else 0  # rotated: from 0
    start = max(start, st.st_size - limits().log_tail_bytes)  # only the newest lines matter
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(limits().log_tail_bytes)
    complete = data[: data.rfind(b"\n") + 1]
    return complete.decode("utf-8", errors="replace").splitlines()


def parse_event(line: str) -> dict[str, Any] | None:
    """A label event, or None for a line that is not one (bounded like every document: depth, integers)."""
    import msgspec

    try:
        event = msgspec.json.decode(line, type=dict[str, Any])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return event if "label" in event else None


def wait_first_label(path: Path, since: Mark, timeout_s: float, failure: Callable[[], str | None],
                     poll_s: float = 0.2) -> dict[str, Any]:
    """Block until a complete label event appears after ``since``.

    ``failure`` is asked on every poll whether the service has already failed (it returns the
    reason); that ends the wait early instead of sitting out the timeout.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        for line in _new_lines(path, since):
            event = parse_event(line)
            if event is not None:
                return event
        reason = failure()
        if reason:
            raise CheckFailed(reason)
        if time.monotonic() > deadline:
            raise CheckFailed(f"no label in {path} within {timeout_s:g} s")
        time.sleep(poll_s)


def tail(path: Path) -> LogTail:
    """The label events in the file's tail, and what was skipped (a torn last line, unreadable lines)."""
    found = read_log_tail(path, dict[str, Any])
    events = [e for e in found.records if "label" in e]
    found.unreadable += len(found.records) - len(events)
    found.records = events
    return found


def recent(path: Path, n: int) -> list[dict[str, Any]]:
    """The last ``n`` label events (read from the file's tail only)."""
    events = tail(path).records
    return events[-n:] if n > 0 else []


def fps(events: list[dict[str, Any]]) -> float | None:
    """Label rate over a run of events, from their emit timestamps."""
    times = [float(e["t_emit"]) for e in events if isinstance(e.get("t_emit"), int | float)]
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def rotate(path: Path, max_bytes: int) -> bool:
    """Keep one previous generation (``labels.jsonl.1``) once the file passes ``max_bytes``."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    os.replace(path, path.with_name(path.name + ".1"))
    return True
