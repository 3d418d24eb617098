"""Bundle archives: a deterministic .tar.gz out, and an extraction that trusts nothing coming in.

Every member is checked before a single byte is written: plain files only (no links, devices or
fifos), no absolute names, no ``..``, no nesting (bundles are flat), no duplicates; the manifest is read
and every entry must be listed in it with its exact size, the total within the bundle limit.
Files are then written with O_EXCL|O_NOFOLLOW and mode 0644 into a fresh staging directory, so
even a race cannot make extraction follow a link out of it.

The archive is read as a stream, one 512-byte header at a time (``tarfile.TarInfo.frombuf`` parses
each), and every count and size is checked as it is read: the number of entries (a 1.9 MB .tar.gz
can hold 850,000 headers, which ``tarfile.getmembers()`` would all read and keep first), the size
of an extended header (a PAX or GNU long-name header of 512 MB inflates from 500 KB, and tarfile
reads it whole), and the declared sizes against the bundle limit before their data is skipped.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from edgevision.errors import CheckFailed, disk_full
from edgevision.limits import Limits, hint, limits
from edgevision.plainfile import open_regular

FILE_MODE = 0o644
_CHUNK = 1 << 20
_BLOCK = tarfile.BLOCKSIZE
_EXTENDED = {tarfile.XHDTYPE: "PAX", tarfile.XGLTYPE: "PAX global", tarfile.SOLARIS_XHDTYPE: "PAX",
             tarfile.GNUTYPE_LONGNAME: "GNU long-name", tarfile.GNUTYPE_LONGLINK: "GNU long-link"}
_CORRUPT = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, ValueError)
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
    if member.type == tarfile.GNUTYPE_SPARSE:
        return "is a sparse file; bundles hold plain files"
    if not member.isfile():
        return "is a device, fifo or other special entry"
    rel = [p for p in parts if p != "."]
    if len(rel) != 1 or "\\" in name:
        return "is inside a sub-directory; bundles are flat"
    if rel[0].startswith("."):
        return "is a hidden file"
    return None


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Extract a bundle archive into the empty directory ``dest``; refuse the whole archive on any bad entry.

    Two passes over the stream: the first reads every header (bounded) and the manifest, and skips the
    data; only when everything is checked does the second write the files."""
    lim = limits()
    files, manifest_raw = _scan(archive, lim)
    check_declared(files, manifest_raw, archive, lim)
    if any(dest.iterdir()):
        raise CheckFailed(f"{dest}: staging directory is not empty")
    wanted = {m.name for m in files}

    def write(member: tarfile.TarInfo, read: Callable[[int], bytes]) -> None:
        if member.name in wanted:
            _write_member(member, read, dest, archive)

    _read_stream(archive, lim, write)
    return sorted(PurePosixPath(m.name).name for m in files)


def _scan(archive: Path, lim: Limits) -> tuple[list[tarfile.TarInfo], bytes | None]:
    from edgevision.releases.manifest import MANIFEST, Manifest

    seen: set[str] = set()
    files: list[tarfile.TarInfo] = []
    manifest: list[bytes] = []
    parsed: list[Any] = []
    declared = 0

    def check(member: tarfile.TarInfo, read: Callable[[int], bytes]) -> None:
        nonlocal declared
        problem = member_problem(member)
        if problem:
            raise CheckFailed(f"{archive}: entry {member.name!r} {problem}; nothing was installed")
        if member.isdir():
            return
        base = PurePosixPath(member.name).name
        if base in seen:
            raise CheckFailed(f"{archive}: entry {member.name!r} appears twice; nothing was installed")
        seen.add(base)
        files.append(member)
        if parsed:  # read already (it usually comes first): each entry is checked against it as it comes
            _check_listed([member], parsed[0], archive)
        declared += member.size
        if declared > lim.bundle_bytes:
            raise CheckFailed(f"{archive}: its entries declare more than the {lim.bundle_bytes / 2**20:.0f} MB bundle "
                              f"limit ({hint('bundle_bytes')}); nothing was installed")
        if base == MANIFEST:
            if member.size > lim.manifest_bytes:
                raise CheckFailed(f"{archive}: {MANIFEST} is {member.size:,} bytes; at most {lim.manifest_bytes:,}")
            manifest.append(read(member.size))
            try:
                parsed.append(Manifest.from_json(manifest[0], f"{archive}:{MANIFEST}"))
            except CheckFailed:
                return  # said after the scan, once every entry has been checked for what it is
            _check_listed(files, parsed[0], archive)

    _read_stream(archive, lim, check)
    return files, manifest[0] if manifest else None


def _read_stream(archive: Path, lim: Limits, visit: Callable[[tarfile.TarInfo, Callable[[int], bytes]], None]) -> None:
    """Open the .tar.gz (a regular file only) and hand each entry to ``visit``, with a reader of its data."""
    raw = open_regular(archive, "bundle archive")
    try:
        with raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            for member, read in _entries(gz, archive, lim):
                visit(member, read)
    except gzip.BadGzipFile as exc:
        raise CheckFailed(f"{archive}: not a readable .tar.gz bundle ({exc})") from None
    except _CORRUPT as exc:
        raise CheckFailed(f"{archive}: corrupt or truncated archive ({exc or type(exc).__name__})") from None
    except OSError as exc:
        if disk_full(exc):  # the disk the entries are written to, not the archive: the caller says what is kept
            raise
        raise CheckFailed(f"{archive}: not a readable .tar.gz bundle ({exc})") from None


def _exact(stream: BinaryIO, n: int, archive: Path) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise CheckFailed(f"{archive}: corrupt or truncated archive (it ends inside an entry)")
    return data


def _skip(stream: BinaryIO, n: int, archive: Path) -> None:
    while n > 0:
        n -= len(_exact(stream, min(n, _CHUNK), archive))


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


def tar_entries(stream: BinaryIO, origin: str, lim: Limits, cap: int,
                what: str = "a bundle") -> Iterator[tuple[tarfile.TarInfo, Callable[[int], bytes]]]:
    """The entries of any tar stream (a samples stream pulled from a device too), read as :func:`safe_extract`
    reads a bundle's: one header at a time, at most ``cap`` entries, extended headers bounded; each with a
    reader of its data (what is not read is skipped). ``what`` names the stream in the error for too many."""
    return _entries(stream, origin, lim, cap, what)  # type: ignore[arg-type]  # an origin shown, as a Path is


def _entries(gz: BinaryIO, archive: Path, lim: Limits, cap: int | None = None,
             what: str = "a bundle") -> Iterator[tuple[tarfile.TarInfo, Callable[[int], bytes]]]:
    """The entries of a tar stream, their extended headers applied; at most ``cap`` (``bundle_files``) entries
    (plus a few extended headers each) are read before the archive is refused."""
    cap = lim.bundle_files if cap is None else cap
    headers = entries = 0
    pax: dict[str, str] = {}
    long_name: str | None = None
    while True:
        block = gz.read(_BLOCK)
        if not block or block == bytes(_BLOCK):
            return  # the end-of-archive marker (or an archive that simply stops after its last entry)
        if len(block) != _BLOCK:
            raise CheckFailed(f"{archive}: corrupt or truncated archive (a header is cut short)")
        headers += 1
        if headers > 3 * cap + 3:
            raise CheckFailed(f"{archive}: more than {cap} entries; {what} has at most {cap}")
        try:
            member = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise CheckFailed(f"{archive}: corrupt or truncated archive ({exc})") from None
        if member.size < 0:
            raise CheckFailed(f"{archive}: corrupt archive (a negative size)")
        if member.type in _EXTENDED:
            if member.size > lim.tar_header_bytes:
                raise CheckFailed(f"{archive}: a {_EXTENDED[member.type]} header of {member.size:,} bytes; at most "
                                  f"{lim.tar_header_bytes:,} ({hint('tar_header_bytes')})")
            payload = _exact(gz, _padded(member.size), archive)[:member.size]
            if member.type == tarfile.GNUTYPE_LONGNAME:
                long_name = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif member.type in (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE):
                pax = _pax_records(payload, archive)
            continue
        entries += 1
        if entries > cap:
            raise CheckFailed(f"{archive}: more than {cap} entries; {what} has at most {cap}")
        if long_name is not None:
            member.name = long_name
        if "path" in pax:
            member.name = pax["path"]
        if "linkpath" in pax:
            member.linkname = pax["linkpath"]
        if "size" in pax:
            member.size = _pax_size(pax["size"], archive)
        pax, long_name = {}, None
        data = _EntryData(gz, member.size if member.isreg() else 0, archive)
        yield member, data.read
        _skip(gz, _padded(data.size) - (data.size - data.left), archive)


class _EntryData:
    """The data of one entry: ``read`` hands out at most what the header declares; the rest is skipped after."""

    def __init__(self, stream: BinaryIO, size: int, archive: Path) -> None:
        self.stream, self.size, self.left, self.archive = stream, size, size, archive

    def read(self, n: int) -> bytes:
        n = min(n, self.left)
        data = _exact(self.stream, n, self.archive)
        self.left -= n
        return data


def _pax_records(payload: bytes, archive: Path) -> dict[str, str]:
    """``"%d %s=%s\\n"`` records of a PAX extended header (only path, linkpath and size matter to a bundle)."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(payload) and payload[pos:pos + 1] != b"\0":
        space = payload.find(b" ", pos, pos + 12)
        try:
            length = int(payload[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        record = payload[pos:pos + length]
        if length <= space - pos + 1 or len(record) != length or not record.endswith(b"\n") or b"=" not in record:
            raise CheckFailed(f"{archive}: corrupt PAX header")
        key, _, value = record[space - pos + 1:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _pax_size(text: str, archive: Path) -> int:
    if not text.isdigit() or len(text) > 18:
        raise CheckFailed(f"{archive}: a PAX size {text[:20]!r} is not a size")
    return int(text)


def check_declared(files: list[tarfile.TarInfo], manifest_raw: bytes | None, archive: Path,
                   lim: Limits | None = None) -> None:
    """Before a byte is written: the manifest is read (bounded), every other entry must be listed in it
    with exactly the size the archive header gives, and the declared total must fit the bundle limit."""
    from edgevision.releases.manifest import MANIFEST, Manifest

    cap = (lim or limits()).bundle_bytes
    if manifest_raw is None:
        raise CheckFailed(f"{archive}: no {MANIFEST} (not a bundle; make one with `edgevision bundle`)")
    manifest = Manifest.from_json(manifest_raw, f"{archive}:{MANIFEST}")
    declared = sum(int(v["size"]) for v in manifest.files.values())
    if declared > cap or any(int(v["size"]) < 0 for v in manifest.files.values()):
        raise CheckFailed(f"{archive}: its manifest declares {declared / 2**20:.0f} MB of files, over the "
                          f"{cap / 2**20:.0f} MB bundle limit ({hint('bundle_bytes')}); nothing was installed")
    _check_listed(files, manifest, archive)


def _check_listed(files: list[tarfile.TarInfo], manifest: Any, archive: Path) -> None:
    """Every entry but the manifest is listed in it, with exactly the size its header gives."""
    from edgevision.releases.manifest import MANIFEST

    for m in files:
        name = PurePosixPath(m.name).name
        if name == MANIFEST:
            continue
        if name not in manifest.files:
            raise CheckFailed(f"{archive}: entry {name!r} is not listed in the manifest; nothing was installed")
        if m.size != manifest.files[name]["size"]:
            raise CheckFailed(f"{archive}: entry {name!r} is {m.size:,} bytes but the manifest says "
                              f"{manifest.files[name]['size']:,}; nothing was installed")


def _write_member(member: tarfile.TarInfo, read: Callable[[int], bytes], dest: Path, archive: Path) -> None:
    fd = os.open(dest / PurePosixPath(member.name).name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                 FILE_MODE)
    written = 0
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), FILE_MODE)
        while written < member.size:
            chunk = read(min(_CHUNK, member.size - written))
            written += len(chunk)
            out.write(chunk)
