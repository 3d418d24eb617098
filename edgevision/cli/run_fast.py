"""``edgevision run`` without importing typer: parse a plain command line from the option table.

On a Pi, importing typer (and the click it vendors) and building a command costs more than loading
the model; ``run`` is what a service starts on every boot and a user waits on for the first label.
:func:`parse` reads only command lines whose meaning is certain: known flags, values that are plain
decimals within their range, paths and strings. Anything else (``--help``, an unknown or abbreviated
flag, a value outside its range or oddly written, a value taken from an environment variable) gives
None and goes to the typer command, so messages, help and exit codes stay typer's.
``tests/test_cli_dispatch.py`` checks that both read every command line alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgevision.cli.plain_values import FLOAT, INT, in_range
from edgevision.session.run_options import REQUIRED, RUN_TABLE, RunOption

_BAD = object()


def _value(option: RunOption, raw: str) -> Any:
    if raw == "" or (raw.startswith("-") and option.kind not in (int, float)):
        return _BAD  # an empty value, or one that looks like a flag: typer decides
    if option.kind is str:
        return raw
    if option.kind is Path:
        return Path(raw)
    pattern = INT if option.kind is int else FLOAT
    if not pattern.fullmatch(raw):
        return _BAD
    number = option.kind(raw)
    return number if in_range(number, option.min, option.max) else _BAD


def _flags() -> dict[str, tuple[RunOption, bool]]:
    table: dict[str, tuple[RunOption, bool]] = {}
    for option in RUN_TABLE:
        for flag in option.flags:
            table[flag] = (option, True)
        if option.negative:
            table[option.negative] = (option, False)
    return table


def parse(args: list[str]) -> dict[str, Any] | None:
    """The parameters typer would call ``run`` with for ``args`` (what follows ``run``), or None."""
    flags = _flags()
    values: dict[str, Any] = {o.name: o.default for o in RUN_TABLE}
    given: set[str] = set()
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or arg == "-":
            return None
        if not arg.startswith("-"):
            positional.append(arg)
            i += 1
            continue
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        hit = flags.get(name)
        if hit is None:
            return None
        option, on = hit
        if option.kind is bool:
            if eq:
                return None
            value: Any = on
        else:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                inline = args[i]
            value = _value(option, inline)
            if value is _BAD:
                return None
        values[option.name] = value  # given twice: the last one counts, as in click
        given.add(option.name)
        i += 1
    if len(positional) != 1:
        return None
    for option in RUN_TABLE:
        if option.default is REQUIRED and option.name not in given:
            return None
        if option.envvar and option.name not in given and option.envvar in os.environ:
            return None
    return {"model": Path(positional[0]), **values}
