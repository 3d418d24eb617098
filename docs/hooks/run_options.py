"""MkDocs hook: the reference table of ``edgevision run`` options, built from the code at build time.

``edgevision.session.run_options.RUN_TABLE`` declares every option of ``edgevision run`` once; the command's
parser is generated from it. This hook replaces the marker ``<!-- run-options -->`` in a page with a
Markdown table of that declaration (flags, type, default, help, and where a bundle or a device sets it),
so the documentation follows the code with no manual step: an option added to the table appears in the docs
on the next build.

The repository root (the folder of mkdocs.yml) goes first on ``sys.path``, so the table is the one of
the tree being built, not of whichever edgevision happens to be installed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = "<!-- run-options -->"
TABLE_MODULE = "edgevision.session.run_options"

_KINDS = {"str": "text", "int": "integer", "float": "number", "bool": "switch", "Path": "path"}


def _cell(text: str) -> str:
    """One table cell: no line breaks, and a ``|`` of the text must not end the cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _number(value: float) -> str:
    return f"{value:g}"


def _kind(option: Any) -> str:
    kind = getattr(option, "kind", str)
    name = _KINDS.get(getattr(kind, "__name__", str(kind)), getattr(kind, "__name__", str(kind)))
    low, high = getattr(option, "min", None), getattr(option, "max", None)
    if low is not None and high is not None:
        return f"{name}, {_number(low)} to {_number(high)}"
    if low is not None:
        return f"{name} ≥ {_number(low)}"
    if high is not None:
        return f"{name} ≤ {_number(high)}"
    return name


def _default(option: Any) -> str:
    default = getattr(option, "default", None)
    if default is Ellipsis:
        text = "**required**"
    elif default is None:
        text = "unset"
    elif isinstance(default, bool):
        text = "on" if default else "off"
    else:
        text = f"`{default}`"
    envvar = getattr(option, "envvar", None)
    return f"{text}; `${envvar}`" if envvar else text


def _flags(option: Any) -> str:
    flags = [f"`{flag}`" for flag in getattr(option, "flags", ())]
    negative = getattr(option, "negative", None)
    if negative:
        flags.append(f"`{negative}`")
    return ", ".join(flags)


def _help(option: Any) -> str:
    """The option's help, and where a release on a device gets its value (``device_file``), or that a bundle
    may set it (``--sink NAME=…``)."""
    text = getattr(option, "help", "")
    device_file = getattr(option, "device_file", "")
    if device_file:
        text += f" On a device: `ROOT/secrets/{device_file}`."
    elif getattr(option, "bundle", "") and getattr(option, "flags", ()):
        text += f" In a bundle: `--sink {option.flags[0][2:]}`."
    return text


def options_table(options: Iterable[Any]) -> str:
    """A Markdown table with one row per option, in the order the code declares them."""
    rows = ["| option | type | default | what it does |", "|---|---|---|---|"]
    for option in options:
        rows.append(f"| {_cell(_flags(option))} | {_cell(_kind(option))} | {_cell(_default(option))} "
                    f"| {_cell(_help(option))} |")
    if len(rows) == 2:
        raise PluginError(f"{TABLE_MODULE}.RUN_TABLE is empty: no run options to document")
    return "\n".join(rows)


def run_table(root: Path) -> tuple[Any, ...]:
    """``RUN_TABLE`` of the tree at ``root``."""
    if str(root) not in sys.path[:1]:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(TABLE_MODULE)
    except ImportError as exc:
        raise PluginError(f"cannot import {TABLE_MODULE} from {root}: {exc}") from exc
    return tuple(module.RUN_TABLE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    root = Path(config["config_file_path"]).resolve().parent
    return markdown.replace(MARKER, options_table(run_table(root)))
