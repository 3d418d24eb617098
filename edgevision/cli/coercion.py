"""Option values without pydantic: typer (0.2x) coerces every parameter through a pydantic ``TypeAdapter``
built on first use, and importing pydantic and building the adapters is about a quarter of the time from
``exec`` to the first label of ``edgevision run`` (more on a Pi, where pydantic-core loads slowly).

The values this CLI takes are almost always plain: a string, a decimal integer or number inside its range,
a path, or an option left at its default. Their result is known without pydantic, so those are converted
here; anything else (an out-of-range or oddly written number, a boolean from a string, a list, a choice)
goes to typer's own coercion, so results and error messages stay exactly typer's. This reaches into typer's
internals (``_runtime_param``, ``type_descriptor``, ``coerce_cli_path``); with a typer that lacks them,
:func:`install` changes nothing and typer coerces as it always does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgevision.cli.plain_values import FLOAT as _FLOAT
from edgevision.cli.plain_values import INT as _INT
from edgevision.cli.plain_values import in_range

try:  # typer >= 0.2x: pydantic-backed coercion, built lazily per parameter
    from typer._click import Context
    from typer._coercion import build_runtime_param
    from typer._param_types import coerce_cli_path
except ImportError:  # pragma: no cover - an older typer coerces through click's types: nothing to skip
    Context = None  # type: ignore[assignment,misc]
    build_runtime_param = None  # type: ignore[assignment]
    coerce_cli_path = None  # type: ignore[assignment]

_UNDECIDED = object()
_PLAIN_TYPES = (str, int, float, bool, Path)


class PlainValue:
    """The runtime coercion of one parameter: plain values here, the rest through typer's coercion."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:  # typer calls coerce(value, param=..., ctx=...)
        if value is None and not (param.multiple or param.nargs == -1):
            return None  # what typer returns for an unset option, before it asks its adapter anything
        plain = _plain(self.descriptor.annotation, self.descriptor.parameter_info, value, param, ctx)
        if plain is not _UNDECIDED:
            return plain
        if self._typer is None:
            self._typer = build_runtime_param(self.descriptor)
        return self._typer.coerce(value, param=param, ctx=ctx)


def _in_range(number: float, info: Any) -> bool:
    return in_range(number, info.min, info.max)


def _plain(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    if annotation is str:
        return value if type(value) is str else _UNDECIDED
    if annotation is int:
        if type(value) is int or (type(value) is str and _INT.fullmatch(value)):
            number = int(value)
            return number if _in_range(number, info) else _UNDECIDED  # out of range: typer words the error
        return _UNDECIDED
    if annotation is float:
        if type(value) in (float, int) or (type(value) is str and _FLOAT.fullmatch(value)):
            number = float(value)
            return number if _in_range(number, info) else _UNDECIDED
        return _UNDECIDED
    if annotation is Path and info.path_type is None and isinstance(value, (str, Path)):
        # typer turns a str into Path(str) (pydantic's Path validator does no more) and then checks the
        # path flags (exists, readable, ...) in coerce_cli_path, which needs no pydantic for a Path
        path = value if isinstance(value, Path) else Path(value)
        return coerce_cli_path(path, info, path_type=Path, param=param, ctx=ctx)
    return _UNDECIDED


def install(command: Any, parent: Any = None) -> int:
    """Give the parameters of ``command`` and of its subcommands (a click command typer built) the
    pydantic-free coercion for plain values; returns how many parameters now have it.

    ``--help`` is a parameter too (click makes it on first use and keeps it; unset, its value is None,
    which typer would hand to a new adapter): a throwaway context makes it here, as parsing would."""
    if build_runtime_param is None:
        return 0  # pragma: no cover
    ctx = Context(command, parent=parent, info_name=command.name, **command.context_settings)
    count = 0
    for param in command.get_params(ctx):
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", _UNDECIDED) is not None:
            continue  # not a typer parameter of this kind, or its coercion is already built
        info = descriptor.parameter_info
        if descriptor.annotation in _PLAIN_TYPES and info.parser is None and not getattr(info, "clamp", False):
            param._runtime_param = PlainValue(descriptor)
            count += 1
    for sub in getattr(command, "commands", {}).values():
        count += install(sub, ctx)
    return count
