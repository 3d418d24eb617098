"""``edgevision device samples export``: the kept samples as one tar stream on stdout, for ``samples pull``.

The desktop side reads this stream over SSH (:mod:`edgevision.deploy.samples_pull`). The folder's lock
is held while it is written, so the index and the files agree; the index goes first, then only files it
names, as plain names, each opened as a regular file without following a link (a link planted in the
folder cannot send another file of the device) and streamed, never read whole; nothing else of the
device's disk can be asked for. When the desktop names a nonce (``$EDGEVISION_ANSWER_FRAME``), a frame
line goes before the tar, so a login shell that greets first cannot spoil the stream.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from pathlib import Path
from typing import BinaryIO

from edgevision.console import ANSWER_FRAME_ENV, answer_frame
from edgevision.errors import BadInput
from edgevision.limits import limits
from edgevision.plainfile import open_regular
from edgevision.sinks.sample_store import INDEX, locked, read_index

_NONCE = re.compile(r"[A-Za-z0-9]{16,64}")


def export(folder: Path, out: BinaryIO, nonce: str | None = None) -> int:
    """Write the index and its JPEGs as an uncompressed tar to ``out`` (JPEGs do not compress); how many.
    With ``nonce`` (default: ``$EDGEVISION_ANSWER_FRAME``), its frame's first line goes before the tar."""
    nonce = os.environ.get(ANSWER_FRAME_ENV, "") if nonce is None else nonce
    if _NONCE.fullmatch(nonce):
        out.write(answer_frame(nonce)[0].encode("ascii") + b"\n")
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if not (folder / INDEX).is_file():
            _add(tar, INDEX, b"")
            return 0
        with locked(folder):
            cap = limits().image_bytes
            sent = [(e, size) for e in read_index(folder) if (size := _size(folder / e["file"])) <= cap]
            _add(tar, INDEX, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e, _ in sent).encode("utf-8"))
            for entry, size in sent:
                try:
                    fh = open_regular(folder / entry["file"], "sample", follow=False)
                except BadInput:  # swapped since the index was read: its bytes are not sent
                    fh = io.BytesIO()
                with fh:
                    tar.addfile(_info(entry["file"], size), _Exactly(fh, size))
    return len(sent)


def _size(path: Path) -> int:
    """The size of a regular file (not followed if a link: read_index kept only regular files)."""
    try:
        return os.lstat(path).st_size
    except OSError:
        return 1 << 62


class _Exactly(io.RawIOBase):
    """``size`` bytes of ``fh`` (zeros past a file that shrank meanwhile): tarfile copies exactly the size its
    header declared, in chunks, so the stream stays a valid tar whatever happens to the file."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.left = fh, size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(n) if n else b""
        data += bytes(n - len(data))
        self.left -= n
        return data


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o644
    return info


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))
