"""The parser every ``edgevision`` command is declared on: argparse, one-line usage errors, rich help.

Usage errors (an unknown option, a missing argument, a bad or out-of-range value) print one line,
``error: <message> (see: edgevision <cmd> --help)``, and exit 2, like every other bad input: a script
reading stderr gets one parsable line, never a usage block. Help is rendered by rich-argparse, imported
only when help is printed, so a start that runs a command pays for argparse alone.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_USAGE = 2
HANDLER = "edgevision handler"   # namespace keys no option can have (they hold a space): what to call,
REACHED = "edgevision parser"    # and the deepest parser the command line reached (its help, when no handler)
METAVARS = {int: "INTEGER", float: "FLOAT", Path: "PATH", str: "TEXT"}
NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")  # argparse's: such words are values, not options


class PlainFormatter(argparse.RawDescriptionHelpFormatter):
    """The formatter argparse uses while a parser is built and read (to check metavars, name sub-commands):
    with a width given, it does not import shutil to ask the terminal (2-5 ms of a start). Help and usage
    are never printed with it (help: :func:`rich_formatter`; errors: one line)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, 120 if width is None else width)


def rich_formatter() -> type[argparse.HelpFormatter]:
    """rich-argparse's formatter, examples kept as written, help text printed literally (no console markup:
    ``[default: …]`` and ``edgevision[train]`` are text, not styles)."""
    from rich_argparse import RawDescriptionRichHelpFormatter

    class HelpFormatter(RawDescriptionRichHelpFormatter):
        help_markup = False
        text_markup = False

    return HelpFormatter


def one_line(message: str) -> str:
    """Whitespace collapsed and control characters escaped: a value from the command line stays inert."""
    text = " ".join(message.split())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser with the CLI's usage errors and help; sub-commands through :class:`Commands`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.flags: set[str] = set()       # every option string, for the checks below and for tests
        self._valued: set[str] = set()     # the option strings that take a value
        self.commands: Commands | None = None
        self._variadic = False             # a positional of 0, 1 or more values: options may come between them
        self._inner = False
        kwargs.setdefault("allow_abbrev", False)  # --sourc is a mistake, not --source
        kwargs.setdefault("formatter_class", PlainFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        if add_help:
            self.add_argument("-h", "--help", action="help", help="Show this help and exit.")
        self.set_defaults(**{REACHED: self})

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.flags.update(action.option_strings)
        if action.nargs != 0:
            self._valued.update(action.option_strings)
        if not action.option_strings and action.nargs in ("*", "+", "?"):
            self._variadic = True
        return action

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument "):  # "argument --top-k: ..." -> "--top-k: ..."
            message = message[len("argument "):]
        print(f"error: {one_line(message)} (see: {self.prog} --help)", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE)

    def format_help(self) -> str:
        self.formatter_class = rich_formatter()  # only now: rich is not imported by a start that runs a command
        return super().format_help()

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        """Parse, and refuse what is left over here, so the error names this (sub-)command's ``--help``."""
        args = list(sys.argv[1:] if args is None else args)
        if self._inner:  # the passes of parse_known_intermixed_args
            return super().parse_known_args(args, namespace)
        args = self.commands.check(self, args) if self.commands is not None else self._read_options(args)
        if self._variadic:  # `bench a.tflite --threads 1 b.tflite`, `evaluate m.tflite --json data/`
            self._inner = True
            try:
                namespace, extras = self.parse_known_intermixed_args(args, namespace)
            finally:
                self._inner = False
        else:
            namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            word = extras[0]
            self.error(f"no such option: {word.split('=')[0]}" if word.startswith("-") and word != "-"
                       else f"unexpected extra argument: {word}")
        return namespace, extras

    def _read_options(self, args: list[str]) -> list[str]:
        """The words after an option that takes a value are its value, whatever they look like
        (``--source --x`` gives --source the value ``--x``, for its own check to judge; argparse alone
        would take ``--x`` for an option). And an unknown option is the mistake to report, before the
        missing ones it may have caused (``run m.tflite --sourc x`` is a misspelt --source). Words are
        classified as argparse does: ``--x`` is an option, ``-x…`` too unless a negative number or
        holding a space; everything after ``--`` is an argument."""
        out: list[str] = []
        words = iter(args)
        for word in words:
            if word == "--":
                return [*out, word, *words]
            if not word.startswith("-") or word == "-" or " " in word or NEGATIVE.match(word):
                out.append(word)
                continue
            name = word.split("=")[0] if word.startswith("--") else word[:2]
            if name not in self.flags:
                self.error(f"no such option: {word.split('=')[0]}")
            out.append(word)
            if word in self._valued:  # the flag alone: the next word is its value
                value = next(words, None)
                if value is None:
                    break
                if value.startswith("-") and value != "-":
                    out[-1] = f"{word}={value}" if word.startswith("--") else f"{word}{value}"
                else:
                    out.append(value)
        return out


class Commands:
    """The sub-commands of a parser: ``edgevision X`` or ``edgevision device X``.

    ``default`` names the sub-command a first word that is none of them means (``bench MODEL`` is
    ``bench run MODEL``). Hidden commands are parsed but not listed in help.
    """

    def __init__(self, parser: CliParser, default: str | None = None) -> None:
        self._action = parser.add_subparsers(title="commands", metavar="COMMAND")
        self.parsers: dict[str, CliParser] = {}  # in the order help lists them
        self.hidden: set[str] = set()
        self.default = default
        parser.commands = self

    def add(self, name: str, handler: Callable[..., Any] | None, *, summary: str | None = None,
            description: str | None = None, epilog: str | None = None, hidden: bool = False) -> CliParser:
        """A sub-command parser that calls ``handler(**options)``; its help and summary default to the
        handler's docstring."""
        doc = description if description is not None else _clean(handler.__doc__ if handler else None)
        line = summary if summary is not None else doc.split("\n")[0]
        kwargs: dict[str, Any] = {} if hidden else {"help": _percent(line)}
        parser: CliParser = self._action.add_parser(name, description=doc, epilog=epilog, **kwargs)
        if handler is not None:
            parser.set_defaults(**{HANDLER: handler})
        self.parsers[name] = parser
        if hidden:
            self.hidden.add(name)
        return parser

    def group(self, name: str, summary: str, *, epilog: str | None = None, default: str | None = None) -> Commands:
        """A sub-command that has sub-commands of its own."""
        return Commands(self.add(name, None, summary=summary, description=summary, epilog=epilog), default)

    def check(self, parser: CliParser, args: list[str]) -> list[str]:
        """Say what an unknown first word is (not a list of every command, hidden ones included)."""
        if not args:
            return args
        first = args[0]
        if self.default and first not in self.parsers and first not in ("-h", "--help"):
            return [self.default, *args]
        if first.startswith("-") and first != "-" and first.split("=")[0] not in parser.flags:
            parser.error(f"no such option: {first.split('=')[0]}")
        if not first.startswith("-") and first not in self.parsers:
            parser.error(f"no such command: {first}")
        return args


def _clean(doc: str | None) -> str:
    """A docstring as help text: its first line, then the rest without the source's indentation."""
    lines = (doc or "").expandtabs().strip().splitlines()
    if not lines:
        return ""
    rest = lines[1:]
    indent = min((len(ln) - len(ln.lstrip()) for ln in rest if ln.strip()), default=0)
    return "\n".join([lines[0].strip(), *(ln[indent:].rstrip() for ln in rest)])


def _percent(text: str) -> str:
    return text.replace("%", "%%")  # argparse %-formats help strings


def number(kind: type[int] | type[float], low: float | None = None, high: float | None = None) -> Callable[[str], Any]:
    """An int or float option value, within [low, high]; the error names the option and the bound
    (``--top-k: 0 is below the minimum 1``)."""
    what = "an integer" if kind is int else "a number"

    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value:  # nan: every comparison is false, so it would pass any range
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"{_show(value)} is below the minimum {_show(low)}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{_show(value)} is above the maximum {_show(high)}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _show(value: float) -> str:
    return str(value) if isinstance(value, int) or not float(value).is_integer() else str(int(value))


def path(text: str) -> Path:
    """A path option value; an empty one is a mistake (``Path("")`` would quietly mean the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(text)


def converter(kind: type, low: float | None = None, high: float | None = None) -> Callable[[str], Any] | None:
    """The argparse ``type`` of an option of ``kind`` (str needs none)."""
    if kind in (int, float):
        return number(kind, low, high)
    if kind is Path:
        return path
    if kind is str:
        return None
    raise TypeError(f"no converter for {kind!r}")


def option(parser: CliParser, *flags: str, kind: type = str, default: Any = None, help: str,
           dest: str | None = None, required: bool = False, min: float | None = None,
           max: float | None = None, negative: str | None = None, many: bool = False,
           envvar: str | None = None, metavar: str | None = None) -> None:
    """Declare one option. ``kind`` bool is a switch (``negative``: its ``--no-x``); ``many``: repeatable,
    the values in a list (None when not given); ``envvar``: the default comes from that variable when set."""
    kwargs: dict[str, Any] = {"dest": dest} if dest else {}
    shown = default
    if envvar:
        default = os.environ.get(envvar) or default  # an empty variable counts as unset
        required = required and envvar not in os.environ
        shown = None  # never print the variable's value in help (it may be a secret)
    text = _percent(help) + _notes(kind, shown, min, max, many)
    if kind is bool:
        if negative is None:
            parser.add_argument(*flags, action="store_const", const=True, default=default, help=text, **kwargs)
        elif len(flags) >= 1 and negative == "--no-" + flags[0][2:] and flags[0].startswith("--"):
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, default=default, help=text, **kwargs)
        else:  # a negative not spelled --no-<flag>: two switches writing the same value
            name = dest or flags[0].lstrip("-").replace("-", "_")
            parser.add_argument(*flags, action="store_const", const=True, default=default, help=text, dest=name)
            parser.add_argument(negative, action="store_const", const=False, dest=name,
                                help=f"The opposite of {flags[0]}.")
        return
    parser.add_argument(*flags, type=converter(kind, min, max), default=default, required=required,
                        action="append" if many else "store", metavar=metavar or METAVARS.get(kind, "VALUE"),
                        help=text, **kwargs)


def _notes(kind: type, default: Any, low: float | None, high: float | None, many: bool) -> str:
    """The default and the range, in brackets after the help text (which stays as declared)."""
    notes = []
    if default is not None and kind is not bool and not many:
        notes.append("default: %(default)s")
    if low is not None and high is not None:
        notes.append(f"{_show(low)} to {_show(high)}")
    elif low is not None:
        notes.append(f"at least {_show(low)}")
    elif high is not None:
        notes.append(f"at most {_show(high)}")
    if many:
        notes.append("repeatable")
    return f" [{'; '.join(notes)}]" if notes else ""
