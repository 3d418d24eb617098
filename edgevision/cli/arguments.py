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

from edgevision.console import inert
from edgevision.errors import BadInput
from edgevision.optionspec import REQUIRED, RunOption, convert

EXIT_USAGE = 2
HANDLER = "edgevision handler"   # namespace keys no option can have (they hold a space): what to call,
REACHED = "edgevision parser"    # and the deepest parser the command line reached (its help, when no handler)
METAVARS = {int: "INTEGER", float: "FLOAT", Path: "PATH", str: "TEXT"}
ARGUMENT = r"argument ([^\s:]+): "  # how argparse names the option of an error: "-n/--lines"
NEGATIVE = r"^-\d+$|^-\d*\.\d+$"  # argparse's: such words are values, not options


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
    return inert(" ".join(message.split()))


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
        named = re.match(ARGUMENT, message)  # "argument -n/--lines: ..." -> "--lines: ..."
        if named:
            names = named.group(1).split("/")
            message = f"{next((n for n in names if n.startswith('--')), names[0])}: {message[named.end():]}"
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
            if not word.startswith("-") or word == "-" or " " in word or re.match(NEGATIVE, word):
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


def converter(row: RunOption) -> Callable[[str], Any] | None:
    """The argparse ``type`` of an option: :func:`edgevision.optionspec.convert`, the one converter a value
    goes through wherever it comes from (a command line here, a bundle's runtime.json on a device), so it
    is read, and refused, alike (``--top-k: 0 is below the minimum 1``). str needs none."""
    if row.kind is str:
        return None

    def read(text: str) -> Any:
        try:
            return convert(row, text)
        except BadInput as exc:  # argparse puts the option's name in front of the message itself
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{row.flag}: ")) from None

    read.__name__ = row.kind.__name__  # named in argparse's own messages
    return read


def option(parser: CliParser, *flags: str, kind: type = str, default: Any = None, help: str,
           dest: str | None = None, required: bool = False, min: float | None = None,
           max: float | None = None, negative: str | None = None, many: bool = False,
           envvar: str | None = None, metavar: str | None = None) -> None:
    """Declare one option (see :func:`add_option`); ``required``: the option must be given."""
    name = dest or next((f for f in flags if f.startswith("--")), flags[0]).lstrip("-").replace("-", "_")
    row = RunOption(name, flags, kind, REQUIRED if required else default, help, negative=negative, min=min, max=max,
                    envvar=envvar)
    add_option(parser, row, many=many, metavar=metavar)


def add_option(parser: CliParser, row: RunOption, *, many: bool = False, metavar: str | None = None) -> None:
    """Declare the option ``row`` describes (a row of ``run``'s table, or one a command declares).

    ``kind`` bool is a switch (``negative``: its ``--no-x``); a ``REQUIRED`` default: it must be given;
    ``many``: repeatable, the values in a list (None when not given); ``envvar``: the default comes from
    that variable when it is set and not empty."""
    required = row.default is REQUIRED
    default = None if required else row.default
    shown = default
    if row.envvar:
        default = os.environ.get(row.envvar) or default
        required = required and default is None
        shown = None  # never print the variable's value in help (it may be a secret)
    text = _percent(row.help) + _notes(row.kind, shown, row.min, row.max, many)
    kwargs: dict[str, Any] = {"dest": row.name, "default": default, "help": text}
    if row.kind is bool:
        if row.negative is None:
            parser.add_argument(*row.flags, action="store_const", const=True, **kwargs)
        elif row.flag.startswith("--") and row.negative == "--no-" + row.flag[2:]:
            parser.add_argument(*row.flags, action=argparse.BooleanOptionalAction, **kwargs)
        else:  # a negative not spelled --no-<flag>: two switches writing the same value
            parser.add_argument(*row.flags, action="store_const", const=True, **kwargs)
            parser.add_argument(row.negative, action="store_const", const=False, dest=row.name,
                                help=f"The opposite of {row.flag}.")
        return
    parser.add_argument(*row.flags, type=converter(row), required=required, action="append" if many else "store",
                        metavar=metavar or METAVARS.get(row.kind, "VALUE"), **kwargs)


def argument(parser: CliParser, name: str, *, kind: type = Path, help: str, nargs: str | None = None,
             metavar: str | None = None) -> None:
    """Declare a positional argument (``nargs``: ``?`` optional, ``*``/``+`` several)."""
    shown = metavar or name.upper()
    parser.add_argument(name, type=converter(RunOption(name, (shown,), kind, None, help)), nargs=nargs,
                        metavar=shown, help=_percent(help))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _notes(kind: type, default: Any, low: float | None, high: float | None, many: bool) -> str:
    """The default and the range, in brackets after the help text (which stays as declared)."""
    notes = []
    if default is not None and kind is not bool and not many:
        notes.append("default: %(default)s")
    if low is not None and high is not None:
        notes.append(f"{_num(low)} to {_num(high)}")
    elif low is not None:
        notes.append(f"at least {_num(low)}")
    elif high is not None:
        notes.append(f"at most {_num(high)}")
    if many:
        notes.append("repeatable")
    return f" [{'; '.join(notes)}]" if notes else ""
