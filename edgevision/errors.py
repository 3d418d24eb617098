"""Errors that the CLI turns into one clear line and an exit code.

Library code raises these instead of printing, so the Python API and the CLI
report the same message; the CLI maps ``exit_code`` to the process status
(0 ok, 1 a check failed, 2 bad input or usage).
"""

from __future__ import annotations

import errno


class EdgevisionError(Exception):
    """Base class: a message meant for a person, and the exit status it implies."""

    exit_code = 2


class BadInput(EdgevisionError):
    """The user gave us something we cannot use (missing file, corrupt model, ...)."""

    exit_code = 2


class CheckFailed(EdgevisionError):
    """Everything ran, but a check the user asked for did not pass (e.g. the accuracy gate)."""

    exit_code = 1


class MissingDependency(EdgevisionError):
    """An optional package is needed for this command and is not installed."""

    exit_code = 2

    def __init__(self, package: str, extra: str, why: str) -> None:
        super().__init__(
            f"{why} needs the '{package}' package: pip install 'edgevision[{extra}]'"
        )


def disk_full(exc: OSError) -> bool:
    """The file system (or the user's quota) has no room left: bad input to report, not a bug."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def exception_name(exc: BaseException) -> str:
    """``struct.error`` rather than a bare ``error``: garbled files raise from odd corners."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
