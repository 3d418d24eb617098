"""A zip's end record, read before its central directory: how many entries it declares and how many bytes.

Python's ``zipfile`` reads the whole central directory and builds one ``ZipInfo`` per record before a
caller can count them: a 60 MB directory of 1.3 million records (which a .tar.gz shrinks to a few
hundred KB) costs over half a gigabyte. The end-of-central-directory record (and its Zip64
successor) states both numbers in a few bytes at the end of the file; they are checked here first,
and ``zipfile`` is only handed an archive whose directory is small.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from edgevision.errors import BadInput
from edgevision.limits import hint

_END = struct.Struct("<4s4H2LH")  # signature, disk, directory disk, entries here, entries, size, offset, comment
_END_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")        # Zip64 end locator: signature, disk, offset of the Zip64 end record, disks
_LOCATOR_SIG = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")      # Zip64 end record: ..., entries here, entries, size, offset
_END64_SIG = b"PK\x06\x06"
MAX_COMMENT = 0xFFFF


class Directory(NamedTuple):
    entries: int
    size: int


def find_directory(data: bytes | memoryview) -> Directory | None:
    """The entry count and directory size a zip's end record declares (the Zip64 record's when there is
    one, as ``zipfile`` reads them), or None when ``data`` has no end record where ``zipfile`` looks."""
    at = len(data) - _END.size
    if at < 0:
        return None
    if bytes(data[at:at + 4]) != _END_SIG:
        at = bytes(data[max(0, len(data) - _END.size - MAX_COMMENT):]).rfind(_END_SIG)
        if at < 0:
            return None
        at += max(0, len(data) - _END.size - MAX_COMMENT)
        if at + _END.size > len(data):
            return None
    _, _, _, _, entries, size, _, _ = _END.unpack_from(data, at)
    loc = at - _LOCATOR.size
    if loc >= 0 and bytes(data[loc:loc + 4]) == _LOCATOR_SIG:
        end64 = loc - _END64.size  # zipfile reads the Zip64 end record right before the locator
        if end64 >= 0 and bytes(data[end64:end64 + 4]) == _END64_SIG:
            fields = _END64.unpack_from(data, end64)
            entries, size = fields[6], fields[7]
    return Directory(int(entries), int(size))


def check_directory(data: bytes | memoryview, origin: str, max_entries: int, max_bytes: int) -> Directory | None:
    """Refuse a zip whose end record declares more than ``max_entries`` entries or a directory over
    ``max_bytes``, before ``zipfile`` reads any of it."""
    found = find_directory(data)
    if found is None:
        return None
    if found.entries > max_entries:
        raise BadInput(f"{origin}: its zip directory declares {found.entries:,} entries; at most {max_entries:,}")
    if found.size > max_bytes:
        raise BadInput(f"{origin}: its zip directory is {found.size:,} bytes; at most {max_bytes:,} "
                       f"({hint('zip_directory_bytes')})")
    return found
