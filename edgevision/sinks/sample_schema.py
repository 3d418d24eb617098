"""The schema of one line of a samples index (``samples.jsonl``): what the device reads back from its own
folder and what ``device samples pull`` accepts from a device, decoded by msgspec (imported only then).

Every field is bounded: a plain file name of the folder's pattern, sizes and times in range (a time of
``1e300`` or ``NaN`` cannot reach ``time.gmtime``), text short; keys a newer edgevision adds are ignored.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

FILE_PATTERN = r"^[0-9]{8}T[0-9]{6}-[0-9]{1,12}(-[0-9]{1,3})?\.jpg$"
Label = Annotated[str, msgspec.Meta(max_length=1024)]
Score = Annotated[float, msgspec.Meta(ge=-1e9, le=1e9)]


class RankedDoc(msgspec.Struct):
    """One of the top-k predictions kept with a sample."""

    label: Label | None = ""
    score: Score = 0.0
    index: Annotated[int, msgspec.Meta(ge=-1, le=2**31)] = -1


class SampleDoc(msgspec.Struct):
    """One kept frame: its file, when it was taken (Unix time, up to the year 5138) and what the model said."""

    file: Annotated[str, msgspec.Meta(pattern=FILE_PATTERN)]
    bytes: Annotated[int, msgspec.Meta(ge=0, le=2**40)]
    t: Annotated[float, msgspec.Meta(ge=0, le=1e11)]
    frame: Annotated[int, msgspec.Meta(ge=0, le=2**53)] = 0
    source: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    label: Label | None = ""
    index: Annotated[int, msgspec.Meta(ge=-1, le=2**31)] = -1
    score: Score = 0.0
    top_k: Annotated[list[RankedDoc], msgspec.Meta(max_length=16)] = []
    reason: Annotated[str, msgspec.Meta(max_length=32)] = ""
    drift: Annotated[str, msgspec.Meta(max_length=16)] = ""
