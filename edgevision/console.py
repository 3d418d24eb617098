"""The consoles every printer uses: tables and messages to stderr, data to stdout.

Below every package that prints (the CLI, the IMX500 tools, reports), so that human output has one
home. rich is imported inside the functions: a ``run`` that prints nothing never loads it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def err_console() -> Console:
    """Progress, tables and messages go to stderr so stdout stays clean for data (JSON lines)."""
    from rich.console import Console  # here, not at the top: `run --quiet` starts without rich

    return Console(stderr=True)


def out_console() -> Console:
    from rich.console import Console

    return Console()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()
