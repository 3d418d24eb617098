"""The ``edgevision`` command. Each command lives in its own module; heavy imports stay inside them.

One parser, the standard library's argparse (``edgevision.cli.arguments``), reads every command line.
Why argparse rather than typer/click: importing argparse costs about 2 ms and a value is converted by a
plain function (``edgevision.optionspec.convert``, which reads a bundle's values too), while typer costs
~53 ms to import and coerces every value through pydantic adapters built on each start (more on a Pi,
where ``edgevision run`` is what a service starts on every boot). Keeping ``run`` fast on typer takes a
second parser for ``run`` and reaching into typer's private modules, which any typer release may break;
with argparse there is one parser, public APIs only, and ``run``'s options are declared once
(``edgevision.session.run_options.RUN_TABLE``). Help is rendered by rich-argparse (sections, colours on
a terminal), imported only when help is printed.

A start pays only for the command it runs: when the first argument names a command, only that command's
module is imported and only its parser is built (its ``--help``, usage errors and exit codes are those of
the full CLI, which lists every command for ``edgevision``, ``--help`` and anything else).
"""

from __future__ import annotations

import importlib
import sys

from edgevision.cli.arguments import EXIT_USAGE, HANDLER, REACHED, CliParser, Commands
from edgevision.version import __version__

# command name -> the module (edgevision.cli.<module>) whose register(commands) adds it, in the order --help lists them
COMMANDS: dict[str, str] = {
    "demo": "demo_cmd", "data": "data_cmd", "train": "train_cmd", "evaluate": "evaluate_cmd",
    "convert": "convert_cmd", "info": "info_cmd", "run": "run_cmd", "doctor": "doctor_cmd", "bench": "bench_cmd",
    "bundle": "bundle_cmd", "deploy": "deploy_cmd", "device": "device_cmd", "toolchain": "toolchain_cmd",
}

DESCRIPTION = ("From a folder of labelled images to real-time labels on a Raspberry Pi or a Coral.\n\n"
               "Exit codes: 0 ok, 1 a check failed (e.g. the accuracy gate), 2 bad input or usage.")


def build_parser(only: str | None = None) -> CliParser:
    """The CLI with every command, or with just ``only`` (a name in :data:`COMMANDS`) for a start that runs it."""
    root = CliParser(prog="edgevision", description=DESCRIPTION)
    root.add_argument("--version", action="version", version=f"edgevision {__version__}",
                      help="Print the version and exit.")
    commands = Commands(root)
    for name in (only,) if only is not None else COMMANDS:
        importlib.import_module(f"edgevision.cli.{COMMANDS[name]}").register(commands)
    return root


def invoked(args: list[str]) -> str | None:
    """The command a start runs when its first argument names one; None (build every command) otherwise,
    e.g. for ``--help``, ``--version``, no arguments or an unknown command, which the full CLI answers."""
    return args[0] if args and args[0] in COMMANDS else None


def main(args: list[str] | None = None) -> None:
    """Parse, then call the command's handler with its options; exits with the handler's status.

    No command (``edgevision``, ``edgevision device``) prints that level's help and exits 2."""
    args = sys.argv[1:] if args is None else list(args)
    values = vars(build_parser(invoked(args)).parse_args(args))
    reached: CliParser = values.pop(REACHED)
    handler = values.pop(HANDLER, None)
    if handler is None:
        reached.print_help()
        sys.exit(EXIT_USAGE)
    rv = handler(**values)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
