"""What ``edgevision run`` does once its command line is read (by the parser ``run_cmd`` builds)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgevision.cli.common import err_console, handle_errors

SWITCH_INTERVAL_S = 0.0005


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM finish the current frame, flush, and exit 0 (never a half-written line)."""
    previous: dict[int, Any] = {}

    def _handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@handle_errors
def run(*, model: Path, **values: Any) -> None:
    """Run ``model`` as the option values say (by name, as in :data:`edgevision.session.run_options.RUN_TABLE`):
    one label event per frame to every output, a summary on stderr unless ``quiet``."""
    from edgevision.session.config import RunConfig

    run_config(RunConfig.from_options(model, values))


def run_config(config: Any) -> None:
    """What ``edgevision run`` and the device's service do with a run configuration."""
    from edgevision.console import inert
    from edgevision.errors import CheckFailed
    from edgevision.redact import without_userinfo
    from edgevision.session.run import Run

    # Three threads share the GIL here (reader, model, events): Python's default 5 ms switch interval
    # lets one wait that long for it after each decode or invoke; 0.5 ms keeps a small model at its pace.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    stop = threading.Event()
    shown = without_userinfo(str(config.source.spec))
    with Run(config, stop) as session:
        if not config.quiet:  # rich is imported only to say something (not before the first label otherwise)
            for text in session.announcements():
                err_console().print(inert(text), markup=False, highlight=False)
        with stop_on_signals(stop):
            for _ in session.events():
                pass
        failure, s, info = session.failure(), session.stats, session.backend.info if session.backend else None
    if not config.quiet:
        extra = f", {s.reconnects} reconnects, {s.hangs} hung reads" if s.reconnects or s.hangs else ""
        runtime = f" ({info.name}, {info.threads} threads)" if info is not None else ""
        err_console().print(inert(f"{s.frames} frames from {s.source.name if s.source else shown}: "
                                  f"{s.fps:.1f} FPS, {s.dropped} dropped{extra}{runtime}"), markup=False,
                            highlight=False)
    if failure is not None:  # gave up on a lost source
        raise CheckFailed(f"{shown}: {failure}")
