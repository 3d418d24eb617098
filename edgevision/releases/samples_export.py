"""``edgevision device samples export``: the kept samples as one tar stream on stdout, for ``samples pull``.

The desktop side reads this stream over SSH (:mod:`edgevision.deploy.samples_pull`). The folder's lock
is held while it is written, so the index and the files agree; only files the index names go out, only
as plain names, and nothing else of the device's disk can be asked for.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import BinaryIO

from edgevision.sinks.sample_store import INDEX, locked, read_index


def export(folder: Path, out: BinaryIO) -> int:
    """Write the index and its JPEGs as an uncompressed tar to ``out`` (JPEGs do not compress); how many."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if not (folder / INDEX).is_file():
            _add(tar, INDEX, b"")
            return 0
        with locked(folder):
            entries = read_index(folder)
            _add(tar, INDEX, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode("utf-8"))
            for entry in entries:
                _add(tar, entry["file"], (folder / entry["file"]).read_bytes())
    return len(entries)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
    tar.addfile(info, io.BytesIO(data))
