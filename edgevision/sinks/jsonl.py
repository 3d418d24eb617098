"""JSON lines: one label event per line, on stdout or appended to a file (the ``stdout`` and ``file`` sinks).

When the drift monitor's state flips, a drift record goes between the label events: an object with
``"event": "drift"`` and no ``label`` field (:class:`~edgevision.pipeline.drift_event.DriftEvent`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from edgevision.pipeline.events import LabelEvent
from edgevision.sinks.registry import SinkConfig, SinkContext

if TYPE_CHECKING:
    from edgevision.pipeline.drift_event import DriftEvent


def _end_partial_line(path: str | Path, fd: int) -> None:
    """A file whose last line was cut (a crash of some other writer) gets a newline first, so the
    next event starts its own line instead of being glued to the torn one (which is kept as is)."""
    if os.fstat(fd).st_size == 0:
        return
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":
            os.write(fd, b"\n")


class JsonlSink:
    """One JSON object per line, so a killed run or a full disk leaves only complete lines.

    A file gets each line in one ``write`` on an ``O_APPEND`` descriptor; when the disk fills
    mid-line, the part that got through is cut off again, and the sink fails (FanOut retries it),
    so the file never holds a torn line that would break a reader of the log.
    """

    def __init__(self, target: IO[str] | str | Path | None = None) -> None:
        self.name = "stdout" if target is None or target == "-" or target is sys.stdout else str(target)
        self._fd: int | None = None
        self._fh: IO[str] | None = None
        if target is None or target == "-":
            self._fh = sys.stdout
        elif isinstance(target, str | Path):
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _end_partial_line(target, self._fd)
        else:
            self._fh = target

    def emit(self, event: LabelEvent) -> None:
        self._write(event.to_json() + "\n")

    def drift(self, event: DriftEvent) -> None:
        """A drift record when the state flipped (not every verdict: the log is not a time series)."""
        if event.changed:
            self._write(event.to_json() + "\n")

    def _write(self, line: str) -> None:
        if self._fh is not None:
            self._fh.write(line)
            self._fh.flush()
            return
        assert self._fd is not None
        data = line.encode("utf-8")
        written = os.write(self._fd, data)  # all, part (disk filled mid-line) or OSError (nothing written)
        if written != len(data):
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_END) - written)
            raise OSError(errno.ENOSPC, "No space left on device (the partial line was removed)")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None




def open_sink(config: SinkConfig, context: SinkContext) -> JsonlSink:
    """``stdout``: events on standard output; ``file``: appended to ``--out``."""
    return JsonlSink(sys.stdout if config.kind == "stdout" else config.value("out"))
