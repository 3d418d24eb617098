"""The consoles every printer uses (tables and messages to stderr, data to stdout), and the one way text
from outside is made inert before it is printed.

Below every package that prints (the CLI, the IMX500 tools, reports), so that human output has one
home. rich is imported inside the functions: a ``run`` that prints nothing never loads it.

Text from outside (labels from a model or a labels file, names and values from a bundle, a device's
answers, file names, exception messages) is data, never instructions to the terminal or the console:

- :func:`inert` shows every character that would act on a terminal instead of being displayed (C0 and
  C1 controls: ESC starts the CSI/OSC sequences that clear the screen, retitle the window or plant
  hyperlinks; DEL; ``\\r``; bidi overrides and isolates, which make text read differently from its
  bytes; line and paragraph separators; lone surrogates, which cannot even be encoded) as a visible
  escape such as ``\\x1b`` or ``\\u202e``, and drops the credentials of any URL in it (``user:pass@``);
- :func:`inert_markup` does that and escapes rich markup, for a value placed in a markup string
  (``f"[bold]{inert_markup(name)}[/]"``): ``[/b]`` cannot crash a printer nor ``[red]`` restyle it;
- :func:`inert_html` does that and escapes HTML.

The consoles made here apply the same escaping to every string they render (keeping line breaks), do
not turn ``:name:`` into emoji, and print a string whose markup does not parse literally: a printer that
forgot to escape a value still cannot move the cursor or crash.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from edgevision.redact import scrub_userinfo

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# What a terminal acts on instead of showing: C0 and C1 controls, DEL, the Arabic letter mark, LRM/RLM,
# line/paragraph separators, bidi embeddings/overrides (U+202A-E) and isolates (U+2066-9), lone surrogates.
_OTHER = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = f"[\x00-\x1f{_OTHER}]"  # patterns compiled on first use (re caches them): a start pays none
_UNSAFE_IN_LINES = f"[\x00-\x08\x0b-\x1f{_OTHER}]"  # tab and line feed kept

# An answer framed for a program that reads it over a channel others print on too (a login shell's
# greeting before the JSON that `edgevision deploy` waits for): set to a nonce, JSON goes between two lines.
ANSWER_FRAME_ENV = "EDGEVISION_ANSWER_FRAME"
_NONCE = r"[A-Za-z0-9]{16,64}"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(value: object, limit: int | None = None) -> str:
    """``value`` as text a terminal shows literally: active characters as visible escapes, URL credentials
    dropped; at most ``limit`` characters (then ``…``)."""
    text = scrub_userinfo(str(value))
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return re.sub(_UNSAFE, _visible, text)


def inert_markup(value: object, limit: int | None = None) -> str:
    """:func:`inert`, and rich markup escaped: for a value inside a console markup string."""
    from rich.markup import escape

    return escape(inert(value, limit))


def inert_html(value: object, limit: int | None = None) -> str:
    """:func:`inert`, and HTML escaped (quotes too): for a value inside a page or an attribute."""
    import html

    return html.escape(inert(value, limit), quote=True)


def inert_json(text: str) -> str:
    """JSON written with ``ensure_ascii=False`` (readable UTF-8) with every active character that JSON leaves
    raw (DEL, C1 controls, bidi overrides, separators, lone surrogates) escaped as ``\\uXXXX``: the same
    document to a parser, inert on a terminal (C0 controls are escaped by JSON itself)."""
    return re.sub(_UNSAFE, _json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def inert_lines(text: str) -> str:
    """Text of several lines made inert line by line: line breaks and tabs stay, everything else as in
    :func:`inert`."""
    return re.sub(_UNSAFE_IN_LINES, _visible, scrub_userinfo(text))


def _console_class() -> type[Console]:
    from rich.console import Console
    from rich.errors import MarkupError

    class InertConsole(Console):
        """A rich console that renders every string inert (see the module's docstring)."""

        def render_str(self, text: str, **kwargs: Any) -> Text:
            text = inert_lines(text)
            try:
                return super().render_str(text, **kwargs)
            except MarkupError:  # a value that should have been escaped: shown as it is, not a crash
                return super().render_str(text, **{**kwargs, "markup": False})

    return InertConsole


def err_console() -> Console:
    """Progress, tables and messages go to stderr so stdout stays clean for data (JSON lines)."""
    return _console_class()(stderr=True, emoji=False)  # here, not at the top: `run --quiet` starts without rich


def out_console() -> Console:
    return _console_class()(emoji=False)


def print_json(data: Any) -> None:
    """One JSON document on stdout (ASCII: every control character escaped), framed between two marker
    lines when ``$EDGEVISION_ANSWER_FRAME`` names a nonce (see :func:`answer_frame`)."""
    text = json.dumps(data, indent=2, default=str)
    nonce = os.environ.get(ANSWER_FRAME_ENV, "")
    if re.fullmatch(_NONCE, nonce):
        begin, end = answer_frame(nonce)
        text = f"{begin}\n{text}\n{end}"
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def answer_frame(nonce: str) -> tuple[str, str]:
    """The two lines around a framed answer: whoever reads it takes only what is between them, so a
    shell that prints something of its own (a greeting, a warning) cannot spoil or forge the answer."""
    return f"-----BEGIN EDGEVISION ANSWER {nonce}-----", f"-----END EDGEVISION ANSWER {nonce}-----"


class InertFormatter(logging.Formatter):
    """Log records as one or more inert lines: a message carrying outside text (a file name, a server's
    answer) cannot drive the terminal or the journal's viewer, nor show a URL's credentials."""

    def format(self, record: logging.LogRecord) -> str:
        return inert_lines(super().format(record))
