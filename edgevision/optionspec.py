"""A command-line option declared as data, so that one declaration serves every reader of it.

The options of ``edgevision run`` are rows of this type (the core ones in ``run/options.py``, each sink's
in the sink registry); the CLI builds its parser from them, a bundle's runtime config is checked and
turned into a run configuration with them, and the docs' option table is generated from them.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from edgevision.errors import BadInput

REQUIRED = ...  # the default of an option that must be given

# How a bundle's runtime.json may set an option (``--sink NAME[=VALUE]``): not at all, with a value, or as a flag.
BUNDLE_NO, BUNDLE_VALUE, BUNDLE_FLAG = "", "value", "flag"

_FLOAT = r"(?a)[-+]?([0-9]{1,18}(\.[0-9]{0,18})?|\.[0-9]{1,18})([eE][-+]?[0-9]{1,3})?"  # compiled on first use


class RunOption(NamedTuple):
    """One option: its parameter name and flags (``negative`` is the ``--no-x`` of a ``--x/--no-x`` switch).

    ``bundle`` says whether a bundle may set it (``BUNDLE_VALUE``/``BUNDLE_FLAG``) and ``check`` how a
    bundle's value is judged beyond its type (it raises BadInput); ``secret`` options are refused in
    bundles, whose files are world-readable, with the way to give them on the device instead.
    ``device_file`` names the file of the device's own configuration (``ROOT/secrets/<device_file>``,
    a fixed name: a bundle never chooses a file to read) whose path the option gets when a release runs
    on the device and the file is there."""

    name: str
    flags: tuple[str, ...]
    kind: type                   # str, int, float, bool or Path
    default: object
    help: str
    negative: str | None = None
    min: float | None = None
    max: float | None = None
    envvar: str | None = None
    bundle: str = BUNDLE_NO
    check: Callable[[str], None] | None = None
    secret: bool = False
    device_file: str = ""

    @property
    def optional(self) -> bool:
        """``kind | None``: the option may be left unset (None), as opposed to having a value by default."""
        return self.default is None

    @property
    def flag(self) -> str:
        return self.flags[0]


def convert(option: RunOption, text: str) -> Any:
    """``text`` as the option's type, within its range; BadInput naming the option otherwise."""
    flag = option.flag
    if option.kind is bool:
        raise BadInput(f"{flag}: is a switch and takes no value")
    if option.kind is str:
        return text
    if option.kind is Path:
        if not text:
            raise BadInput(f"{flag}: expected a path, got an empty value")
        return Path(text)
    is_int = option.kind is int
    if not (_integer(text.strip()) if is_int else re.fullmatch(_FLOAT, text.strip())):
        what = "an integer" if is_int else "a number"
        raise BadInput(f"{flag}: expected {what}, got {text[:40]!r}")
    number = option.kind(text.strip())
    if option.min is not None and number < option.min:
        raise BadInput(f"{flag}: {number} is below the minimum {_num(option.min)}")
    if option.max is not None and number > option.max:
        raise BadInput(f"{flag}: {number} is above the maximum {_num(option.max)}")
    return number


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _integer(text: str) -> bool:
    """``text`` is ``[-+]?[0-9]{1,18}``: string methods, where a pattern would be compiled by every start that
    reads an integer option (``--threads 1``)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit()
