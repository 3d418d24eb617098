"""The device's own secrets: credentials and keys at fixed names under ``ROOT/secrets/``, with checked modes.

A bundle is data written by someone else and is world-readable once installed, so it never carries a
secret and never names a file for the device to read (a bundle that could say "send the first line of
/home/pi/.git-credentials to my broker" would read any file of the service's user). What a release needs
to log in is configuration of the device, kept here at names no bundle chooses:

======================  ============================================================  ===========
file                    what                                                          mode
======================  ============================================================  ===========
``source-credentials``  ``user:password`` for the camera URL of the release           0600
``mqtt-credentials``    ``user:password`` for the MQTT broker                         0600
``mqtt-ca.pem``         CA bundle that verifies an ``mqtts://`` broker                 0644 or 0600
``mqtt-cert.pem``       client certificate for ``mqtts://``                            0644 or 0600
``mqtt-key.pem``        its private key                                               0600
``web-token``           the live view's token                                         0600
``metrics-token``       the metrics endpoint's bearer token                           0600
======================  ============================================================  ===========

The sink options these files feed are named in the run option table (``device_file`` of a row); the
service (``edgevision device serve``) reads them itself. The directory and every file must belong to the
service's user; other users may read none of the secrets and write none of the files, and a symbolic
link is refused (otherwise a file of someone else's choosing could be read). ``edgevision device secret
set NAME`` writes one with the right modes, whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput

SECRETS_DIR = "secrets"
SOURCE_CREDENTIALS = "source-credentials"
PUBLIC = frozenset({"mqtt-ca.pem", "mqtt-cert.pem"})  # certificates: others may read them, never write them
MAX_BYTES = 1 << 20  # a PEM chain is a few KB; a credential a line


def names() -> tuple[str, ...]:
    """Every file name the device's secrets may have: the run option table's ``device_file`` names and the
    camera's credentials."""
    from edgevision.session.run_options import RUN_TABLE

    return (SOURCE_CREDENTIALS, *(o.device_file for o in RUN_TABLE if o.device_file))


def secrets_dir(root: Path) -> Path:
    return root / SECRETS_DIR


def _check_name(name: str) -> str:
    if name not in names():
        raise BadInput(f"{name!r}: not a device secret; known: {', '.join(names())}")
    return name


def _check_dir(folder: Path) -> None:
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise BadInput(f"{folder}: not a directory (a link or a file is refused)")
    if st.st_uid != os.geteuid():
        raise BadInput(f"{folder}: belongs to uid {st.st_uid}, not to this user ({os.geteuid()})")
    if st.st_mode & 0o022:
        raise BadInput(f"{folder}: other users may write to it (mode {stat.S_IMODE(st.st_mode):o}); chmod 700 {folder}")


def check_file(path: Path, name: str) -> None:
    """Refuse a secret that is a link, not a regular file, someone else's, or open to other users."""
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{path}: not a regular file (a link is refused); write it with "
                       f"`edgevision device secret set {name}`")
    if st.st_uid != os.geteuid():
        raise BadInput(f"{path}: belongs to uid {st.st_uid}, not to this user ({os.geteuid()})")
    if mode & (0o022 if name in PUBLIC else 0o077):
        want = "644" if name in PUBLIC else "600"
        raise BadInput(f"{path}: other users may {'write' if name in PUBLIC else 'read'} it (mode {mode:o}); "
                       f"chmod {want} {path}")
    if st.st_size > MAX_BYTES:
        raise BadInput(f"{path}: {st.st_size} bytes; at most {MAX_BYTES} expected")


def present(root: Path) -> dict[str, Path]:
    """The secrets this device has (name -> path), each checked; {} without a secrets directory."""
    folder = secrets_dir(root)
    try:
        _check_dir(folder)
    except FileNotFoundError:
        return {}
    found = {}
    for name in names():
        path = folder / name
        try:
            check_file(path, name)
        except FileNotFoundError:
            continue
        found[name] = path
    return found


def read_line(path: Path, name: str) -> str:
    """The first line of a checked secret (``user:password``, a token)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise BadInput(f"{path}: not a regular file")
        raw = fh.read(MAX_BYTES + 1)
    try:
        line = raw.decode("utf-8").splitlines()[0].strip() if raw.strip() else ""
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    if not line:
        raise BadInput(f"{path}: is empty; write it with `edgevision device secret set {name}`")
    if any(ord(c) < 32 or ord(c) == 127 for c in line):
        raise BadInput(f"{path}: contains control characters")
    return line


def source_credentials(root: Path) -> str | None:
    """``user:password`` for the release's camera URL, if the device has them."""
    path = present(root).get(SOURCE_CREDENTIALS)
    return None if path is None else read_line(path, SOURCE_CREDENTIALS)


def write(root: Path, name: str, data: bytes) -> Path:
    """Store a secret with its mode (0600; 0644 for a certificate) in a 0700 directory, whatever the umask;
    atomically, so a reader sees the old or the new one."""
    _check_name(name)
    if len(data) > MAX_BYTES:
        raise BadInput(f"{name}: {len(data)} bytes; at most {MAX_BYTES}")
    if not data.strip():
        raise BadInput(f"{name}: empty; nothing was written")
    folder = secrets_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)  # a umask can only take bits away
    _check_dir(folder)
    mode = 0o644 if name in PUBLIC else 0o600
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return folder / name


def remove(root: Path, name: str) -> bool:
    """Delete a secret; False when there was none."""
    try:
        (secrets_dir(root) / _check_name(name)).unlink()
        return True
    except FileNotFoundError:
        return False


def listing(root: Path) -> list[dict[str, Any]]:
    """What is configured, never a value: each name, whether it is there, its mode, and what is wrong with it."""
    folder = secrets_dir(root)
    rows = []
    for name in names():
        path = folder / name
        row: dict[str, Any] = {"name": name, "path": str(path), "present": False}
        try:
            st = os.lstat(path)
            row |= {"present": True, "mode": f"{stat.S_IMODE(st.st_mode):o}"}
            _check_dir(folder)
            check_file(path, name)
            row["ok"] = True
        except FileNotFoundError:
            pass
        except BadInput as exc:
            row |= {"ok": False, "problem": str(exc)}
        rows.append(row)
    return rows
