"""Option values whose result is certain without typer's (pydantic's) coercion: plain decimal numbers.

Shared by the pydantic-free coercion inside typer (``coercion``) and the typer-free start of
``run`` (``run_fast``), so both accept exactly the same spellings and leave the rest to typer.
"""

from __future__ import annotations

import re

# What pydantic's lax int/float parsing surely reads as int()/float() do: plain ASCII decimals, no
# signs but '-', no '_', exponents, spaces, 'inf' or 'nan' (those go to typer, which may read them differently).
INT = re.compile(r"-?[0-9]{1,18}", re.ASCII)
FLOAT = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?", re.ASCII)


def in_range(number: float, low: float | None, high: float | None) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)
