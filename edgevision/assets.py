"""Where the editable data folders live: recipes (train/), policies (convert/), device profiles and kit (device/).

DESIGN.md keeps them at the top of the repository because users edit them. A source checkout finds
them there; a wheel installs copies under ``<prefix>/share/edgevision/`` (pyproject's data-files),
so `pip install edgevision` gets the same defaults as a checkout. The user's own ./train, ./convert
and ./device folders always come first.
"""

from __future__ import annotations

import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


def asset_dirs(*parts: str) -> list[Path]:
    """Candidate folders for ``parts`` (e.g. ``"device", "profiles"``), most specific first, without repeats."""
    found: list[Path] = []
    for base in (Path.cwd(), _CHECKOUT, Path(sys.prefix) / "share" / "edgevision"):
        d = base.joinpath(*parts)
        if d not in found:
            found.append(d)
    return found


def find_asset(name_or_path: str | Path, folder: tuple[str, ...], suffixes: tuple[str, ...]) -> tuple[Path | None,
                                                                                                        list[Path]]:
    """The file a ``--recipe``/``--policy``/``--profile`` value names, and every place looked at.

    One rule for all of them: a value with one of ``suffixes``, or one that exists, is a path;
    anything else is a name, looked up as ``NAME<suffix>`` in :func:`asset_dirs` (``folder``), the
    user's own folder first. Returns ``(None, candidates)`` when nothing matches.
    """
    p = Path(name_or_path)
    if p.suffix in suffixes or p.exists():
        candidates = [p]
    else:
        candidates = [d / f"{name_or_path}{suffix}" for d in asset_dirs(*folder) for suffix in suffixes]
    return next((c for c in candidates if c.is_file()), None), candidates
