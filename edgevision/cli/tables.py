"""Result tables that fit the terminal they are printed on (an 80-column SSH session on a Pi included).

A wide table squeezed into 80 characters wraps every cell into slivers; it reads better with the minor
columns left out and long device labels abbreviated to a legend. ``--json`` and the HTML pages keep every column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Column


@dataclass(frozen=True)
class Layout:
    """How to shrink a table: columns to give up in order, and which ones hold wrapping text."""

    drop: tuple[str, ...]                 # least important first; the ``abbreviate`` column here: abbreviate it
    wrapping: tuple[str, ...] = ()        # text columns that may wrap at spaces; others need their full width
    whole: str = ""                       # a column never wrapped or cut (model names differ only at the end)
    abbreviate: str = ""                  # a column whose values become D1, D2… with a legend under the table
    prefix: str = "D"


@dataclass(frozen=True)
class Fitted:
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    hidden: tuple[str, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()   # (short key, full value)


def _word_width(layout: Layout, name: str, text: str) -> int:
    return max((len(w) for w in text.split()), default=0) if name in layout.wrapping else len(text)


def _need(header: tuple[str, ...], rows: list[tuple[str, ...]], cols: list[int], layout: Layout) -> int:
    widths = [max(max(len(w) for w in header[i].split()), *(_word_width(layout, header[i], r[i]) for r in rows))
              for i in cols]
    return sum(widths) + 3 * len(cols) + 1


def fit(header: tuple[str, ...], rows: list[tuple[str, ...]], width: int, layout: Layout) -> Fitted:
    """Drop columns (and abbreviate) in ``layout.drop`` order until the table fits ``width`` characters."""
    cols = list(range(len(header)))
    hidden: list[str] = []
    legend: dict[str, str] = {}
    for name in layout.drop:
        if _need(header, rows, cols, layout) <= width:
            break
        if name not in header:
            continue
        at = header.index(name)
        if name == layout.abbreviate:
            legend = {v: f"{layout.prefix}{n}" for n, v in enumerate(dict.fromkeys(r[at] for r in rows), 1)}
            rows = [(*r[:at], legend[r[at]], *r[at + 1:]) for r in rows]
        else:
            cols.remove(at)
            hidden.append(name)
    return Fitted(tuple(header[i] for i in cols), [tuple(r[i] for i in cols) for r in rows], tuple(hidden),
                  tuple((key, value) for value, key in legend.items()))


def _columns(fitted: Fitted, width: int, layout: Layout) -> list[Column]:
    from rich.table import Column

    cells = [[h, *(r[i] for r in fitted.rows)] for i, h in enumerate(fitted.header)]
    tight = sum(max(len(c) for c in col) for col in cells) + 3 * len(cells) + 1 > width
    out = []
    for h, col in zip(fitted.header, cells, strict=True):
        if not tight:
            out.append(Column(h, overflow="fold"))
        elif h == layout.whole:  # whole while it fits; past that, folding beats a table cut at the edge
            rest = [i for i, name in enumerate(fitted.header) if name != h]
            room = width - _need(fitted.header, fitted.rows, rest, layout) - 3
            longest = max(len(c) for c in col)
            out.append(Column(h, min_width=min(longest, room), max_width=max(room, 4), overflow="fold"))
        else:  # exactly the widths fit() counted: headers and text wrap at spaces, numbers stay whole
            words = h.split() + [w for c in col[1:] for w in (c.split() if h in layout.wrapping else [c])]
            out.append(Column(h, max_width=max(map(len, words)), overflow="fold"))
    return out


def print_fitted(console: Console, notes: Console, header: tuple[str, ...], rows: list[tuple[str, ...]],
                 layout: Layout, title: str, markup: bool = False) -> None:
    """Print the table on ``console`` (its legend too); what was left out is said on ``notes``.

    With ``markup`` the cells may carry rich markup (a red FAIL); otherwise they are printed literally, inert
    (device names, model names and notes come from results files: data).
    """
    from rich.table import Table

    from edgevision.console import inert, inert_markup

    fitted = fit(header, rows, console.width, layout)
    table = Table(*_columns(fitted, console.width, layout), title=title)
    for row in fitted.rows:
        table.add_row(*(row if markup else (inert_markup(c) for c in row)))
    console.print(table)
    for key, value in fitted.legend:
        console.print(inert(f"{key}: {value}"), markup=False, highlight=False)
    if fitted.hidden:
        notes.print(f"note: {', '.join(fitted.hidden)} hidden to fit {console.width} columns; --json has every "
                    "column (or set COLUMNS)", markup=False)
