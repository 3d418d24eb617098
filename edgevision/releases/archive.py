"""Bundle archives: a deterministic .tar.gz out, and an extraction that trusts nothing coming in.

Every member is checked before a single byte is written: plain files only (no links, devices or
fifos), no absolute names, no ``..``, no nesting (bundles are flat), no duplicates; the manifest is read
first and every entry must be listed in it with its exact size, the total within the bundle limit.
Files are then written with O_EXCL|O_NOFOLLOW and mode 0644 into a fresh staging directory, so
even a race cannot make extraction follow a link out of it.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from edgevision.errors import BadInput, CheckFailed
from edgevision.limits import hint, limits

MAX_MEMBERS = 64
FILE_MODE = 0o644
_CHUNK = 1 << 20
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


def is_archive(path: Path) -> bool:
    """A bundle given as a .tar.gz (or .tgz) rather than a directory."""
    return path.name.endswith(ARCHIVE_SUFFIXES)


def pack(directory: Path, out: Path) -> Path:
    """Write ``directory``'s plain files as a flat, byte-for-byte reproducible .tar.gz (atomic rename)."""
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and not p.is_symlink())
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in names:
            data = (directory / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), FILE_MODE, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data))
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, out)
    return out


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` may not be extracted, or None when it is a plain file of a flat bundle."""
    name = member.name
    parts = PurePosixPath(name).parts
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts \
            or ".." in name.replace("\\", "/").split("/"):
        return "escapes the target directory"
    if member.issym() or member.islnk():
        return f"is a {'symbolic' if member.issym() else 'hard'} link (to {member.linkname!r}); links are refused"
    if member.isdir():
        return None if name in (".", "./") else "is a directory; bundles are flat"
    if not member.isfile():
        return "is a device, fifo or other special entry"
    rel = [p for p in parts if p != "."]
    if len(rel) != 1 or "\\" in name:
        return "is inside a sub-directory; bundles are flat"
    if rel[0].startswith("."):
        return "is a hidden file"
    return None


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Extract a bundle archive into the empty directory ``dest``; refuse the whole archive on any bad entry."""
    try:
        tf = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise BadInput(f"{archive}: bundle archive not found") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CheckFailed(f"{archive}: not a readable .tar.gz bundle ({exc})") from None
    with tf:
        try:
            members = tf.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CheckFailed(f"{archive}: corrupt or truncated archive ({exc})") from None
        if len(members) > MAX_MEMBERS:
            raise CheckFailed(f"{archive}: {len(members)} entries; a bundle has at most {MAX_MEMBERS}")
        seen: set[str] = set()
        files: list[tarfile.TarInfo] = []
        for m in members:
            problem = member_problem(m)
            if problem:
                raise CheckFailed(f"{archive}: entry {m.name!r} {problem}; nothing was installed")
            if m.isdir():
                continue
            base = PurePosixPath(m.name).name
            if base in seen:
                raise CheckFailed(f"{archive}: entry {m.name!r} appears twice; nothing was installed")
            seen.add(base)
            files.append(m)
        check_declared(tf, files, archive)
        if any(dest.iterdir()):
            raise CheckFailed(f"{dest}: staging directory is not empty")
        try:
            _write_members(tf, files, dest, archive)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CheckFailed(f"{archive}: corrupt or truncated archive ({exc})") from None
    return sorted(seen)


def check_declared(tf: tarfile.TarFile, files: list[tarfile.TarInfo], archive: Path) -> None:
    """Before a byte is written: the manifest is read (bounded), every other entry must be listed in it
    with exactly the size the archive header gives, and the declared total must fit the bundle limit."""
    from edgevision.releases.manifest import MANIFEST, MAX_MANIFEST_BYTES, Manifest

    cap = limits().bundle_bytes
    by_name = {PurePosixPath(m.name).name: m for m in files}
    entry = by_name.get(MANIFEST)
    if entry is None:
        raise CheckFailed(f"{archive}: no {MANIFEST} (not a bundle; make one with `edgevision bundle`)")
    if entry.size > MAX_MANIFEST_BYTES:
        raise CheckFailed(f"{archive}: {MANIFEST} is {entry.size:,} bytes; at most {MAX_MANIFEST_BYTES:,}")
    fh = tf.extractfile(entry)
    manifest = Manifest.from_json(fh.read(MAX_MANIFEST_BYTES + 1) if fh else b"", f"{archive}:{MANIFEST}")
    declared = sum(int(v["size"]) for v in manifest.files.values())
    if declared > cap or any(int(v["size"]) < 0 for v in manifest.files.values()):
        raise CheckFailed(f"{archive}: its manifest declares {declared / 2**20:.0f} MB of files, over the "
                          f"{cap / 2**20:.0f} MB bundle limit ({hint('bundle_bytes')}); nothing was installed")
    for name, m in by_name.items():
        if name == MANIFEST:
            continue
        if name not in manifest.files:
            raise CheckFailed(f"{archive}: entry {name!r} is not listed in the manifest; nothing was installed")
        if m.size != manifest.files[name]["size"]:
            raise CheckFailed(f"{archive}: entry {name!r} is {m.size:,} bytes but the manifest says "
                              f"{manifest.files[name]['size']:,}; nothing was installed")


def _write_members(tf: tarfile.TarFile, files: list[tarfile.TarInfo], dest: Path, archive: Path) -> None:
    for m in files:
        src = tf.extractfile(m)
        if src is None:
            raise CheckFailed(f"{archive}: entry {m.name!r} has no data")
        fd = os.open(dest / PurePosixPath(m.name).name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     FILE_MODE)
        written = 0
        with os.fdopen(fd, "wb") as out:
            while written < m.size and (chunk := src.read(min(_CHUNK, m.size - written))):
                written += len(chunk)
                out.write(chunk)
        if written != m.size:
            raise CheckFailed(f"{archive}: entry {m.name!r} is truncated ({written:,} of {m.size:,} bytes)")
