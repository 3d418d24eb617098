"""Secrets on the device (an MQTT password, a web-view token): read from a private file or an
environment variable, never from a world-readable one, and never shown in a log line or error."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit

from edgevision.errors import BadInput

MAX_SECRET_BYTES = 4096


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for every log line and error)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user, _, host = parts.netloc.rpartition("@")
        return parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()
    except ValueError:
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def read_secret_file(path: Path, what: str) -> str:
    """The first line of a private file; refused when other users may read it (as ssh does for keys). Opened
    without blocking (a FIFO named as the file cannot hang the run) and checked on the descriptor."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise BadInput(f"{what} {path}: not a regular file")
        os.set_blocking(fd, True)
        if st.st_mode & stat.S_IROTH:
            raise BadInput(f"{what} {path}: readable by every user (mode {stat.S_IMODE(st.st_mode):o}); "
                           f"chmod 600 {path}")
        raw = fh.read(MAX_SECRET_BYTES + 1)
    if len(raw) > MAX_SECRET_BYTES:
        raise BadInput(f"{what} {path}: more than {MAX_SECRET_BYTES} bytes; expected one line")
    try:
        text = raw.decode("utf-8").splitlines()[0] if raw.strip() else ""
    except UnicodeDecodeError:
        raise BadInput(f"{what} {path}: not UTF-8 text") from None
    if not text:
        raise BadInput(f"{what} {path}: is empty")
    return text
