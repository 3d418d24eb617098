"""What every command shares: one-line errors with the right exit code, consoles, JSON output.

Nothing here imports rich at import time: ``run --quiet`` starts without it. An exit is a ``SystemExit``
(``handle_errors`` lets it through, with its code).
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from edgevision.console import (  # noqa: F401 - the CLI's consoles
    InertFormatter,
    err_console,
    inert,
    out_console,
    print_json,
)
from edgevision.errors import EdgevisionError, MissingDependency

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# What the desktop extras bring; missing on a Pi that installed edgevision[device] only.
DESKTOP_MODULES = {"tensorflow", "keras", "tf_keras", "matplotlib", "tf2onnx", "onnxruntime", "onnx"}


def fail(message: str, code: int = EXIT_BAD_INPUT) -> SystemExit:
    """Print ``error: <message>`` as one inert line (messages quote file names, a device's words, a model's
    labels) and return the exit to raise."""
    print(f"error: {inert(message)}", file=sys.stderr, flush=True)
    return SystemExit(code)


def inert_logging() -> None:
    """Warnings and errors on stderr, one inert line each (tracebacks keep their lines)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(InertFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def handle_errors(fn: F) -> F:
    """Turn expected failures into ``error: <one line>`` and an exit code; bugs keep their traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inert_logging()
        try:
            return fn(*args, **kwargs)
        except EdgevisionError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except BrokenPipeError:
            # the reader went away (e.g. `| head`): not an error of ours; keep Python from complaining at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(EXIT_OK) from None
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        except ModuleNotFoundError as exc:  # a desktop command on a device-only install
            package = (exc.name or "").split(".")[0]
            if package not in DESKTOP_MODULES:
                raise
            missing = MissingDependency(package, "train", "this is a desktop command: it")
            raise fail(str(missing), missing.exit_code) from None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.ENOENT, errno.EEXIST,
                             errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EPERM,
                             errno.ENXIO):
                where = f": {exc.filename}" if exc.filename else ""
                raise fail(f"{exc.strerror}{where}") from None
            raise

    return wrapper  # type: ignore[return-value]


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter off the terminal (set before TF is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")
