"""The line a person needs from a converter's failure.

onnx2tf, Keras and the TFLite converter fail with long dumps; Keras wraps TensorFlow's reason in
"Exception encountered when calling layer ...", and the reason (e.g. "Dimensions must be equal, but are
7 and 5") is the line after it.
"""

from __future__ import annotations

import re

WRAPPER = "Exception encountered when calling layer"


def reason_of(exc: BaseException, limit: int = 240) -> str:
    """The first line that says what went wrong, at most ``limit`` characters (the exception's type when the
    message is empty)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()] or [exc.__class__.__name__]
    if lines[0].startswith(WRAPPER) and len(lines) > 1:
        return re.sub(r" for '\{\{node [^']*'", "", lines[1])[:limit]
    return lines[0][:limit]
