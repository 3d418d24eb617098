"""Opening a file that came from outside: only a regular file, checked on the open descriptor, never blocking.

Reading: a path can name a FIFO, a device or a socket as easily as a file: ``open()`` of a FIFO blocks until a
writer appears (a hung ``device install`` holding the store's lock; a ``run`` that no signal reaches
while it is stuck in the call), and reading ``/dev/zero`` never ends. So a model, a bundle, a labels
file or a source file is opened with ``O_NONBLOCK`` (an open that cannot hang), then ``fstat`` on
the descriptor decides: what was opened is what is checked, so a path swapped between a check and
the open changes nothing. With ``follow=False`` a symbolic link is refused too (``O_NOFOLLOW``), for
files inside a directory edgevision owns (a release).

Writing: files and directories edgevision makes on a device get an explicit mode, whatever the umask
(``os.open``'s and ``mkdir``'s modes are cut by it, so a service started under ``umask 000`` would
leave world-writable state): ``write_file`` and ``make_dir`` set the mode on what they created.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from edgevision.errors import BadInput

FILE_MODE = 0o644
DIR_MODE = 0o755
KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def open_regular(path: str | Path, what: str, follow: bool = True) -> BinaryIO:
    """``path`` opened for reading, if it is a regular file; else one BadInput line naming it and what it is."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise BadInput(f"{path}: {what} not found") from None
    except OSError as exc:
        if not follow and os.path.islink(path):
            raise BadInput(f"{path}: {what} is a symbolic link; refused") from None
        raise BadInput(f"{path}: cannot open {what} ({exc.strerror or type(exc).__name__})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise BadInput(f"{path}: {what} is {kind_of(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, what: str, max_bytes: int, too_big: str = "", follow: bool = True) -> bytes:
    """The whole of a regular file of at most ``max_bytes`` (its size checked on the descriptor, and the read
    capped, so a file that grows meanwhile is still refused); ``too_big`` is added to the error line."""
    with open_regular(path, what, follow) as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(min(size, max_bytes) + 1) if size <= max_bytes else b""
        if size > max_bytes or len(data) > max_bytes:
            raise BadInput(f"{path}: {what} is larger than {max_bytes:,} bytes{f' ({too_big})' if too_big else ''}")
        return data


def write_file(path: Path, data: str | bytes, mode: int = FILE_MODE) -> None:
    """Write ``path`` atomically with exactly ``mode``: a temporary file beside it (O_EXCL|O_NOFOLLOW, fchmod),
    then rename(2) over the old one, so a reader sees the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)


def open_append(path: Path, mode: int = FILE_MODE) -> BinaryIO:
    """``path`` opened for appending (created with exactly ``mode``), never through a symbolic link."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    if stat.S_ISREG(os.fstat(fd).st_mode) and os.fstat(fd).st_size == 0:
        os.fchmod(fd, mode)
    return os.fdopen(fd, "ab", buffering=0)


def make_dir(path: Path, mode: int = DIR_MODE) -> None:
    """``mkdir -p`` whose new directories get exactly ``mode`` (mkdir's mode is cut by the umask; chmod is not)."""
    missing = []
    for p in (path, *path.parents):
        if os.path.lexists(p):
            break
        missing.append(p)
    path.mkdir(parents=True, exist_ok=True)
    for p in reversed(missing):
        os.chmod(p, mode)
