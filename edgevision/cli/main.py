"""The ``edgevision`` command. Each command lives in its own module; heavy imports stay inside them.

A start pays only for the command it runs: when the first argument names a command, only that command's
module is imported and only it is built into the typer app (its ``--help``, its usage errors and its
exit codes are those of the full app, which lists every command for ``edgevision``, ``--help`` and
anything else). On a Pi that is the difference between a label in half a second and in one. A plain
``run`` command line does not even import typer (``run_fast``): that is most of what is left.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from edgevision.version import __version__

if TYPE_CHECKING:
    import typer

# command name -> the module (edgevision.cli.<module>) whose register(app) adds it, in the order --help lists them
COMMANDS: dict[str, str] = {
    "demo": "demo_cmd", "data": "data_cmd", "train": "train_cmd", "evaluate": "evaluate_cmd",
    "convert": "convert_cmd", "info": "info_cmd", "run": "run_cmd", "doctor": "doctor_cmd", "bench": "bench_cmd",
    "bundle": "bundle_cmd", "deploy": "deploy_cmd", "device": "device_cmd", "toolchain": "toolchain_cmd",
}


def _version(value: bool) -> None:
    if value:
        print(f"edgevision {__version__}")
        raise SystemExit(0)


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every command, or with just ``only`` (a name in :data:`COMMANDS`) for a start that runs it."""
    import typer

    app = typer.Typer(
        name="edgevision", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
        help="From a folder of labelled images to real-time labels on a Raspberry Pi or a Coral.\n\n"
             "Exit codes: 0 ok, 1 a check failed (e.g. the accuracy gate), 2 bad input or usage.",
    )

    @app.callback()
    def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit.")) -> None:
        """edgevision command line."""

    for name in (only,) if only is not None else COMMANDS:
        importlib.import_module(f"edgevision.cli.{COMMANDS[name]}").register(app)
    return app


def invoked(args: list[str]) -> str | None:
    """The command a start runs when its first argument names one; None (build every command) otherwise,
    e.g. for ``--help``, ``--version``, no arguments or an unknown command, which the full app answers."""
    return args[0] if args and args[0] in COMMANDS else None


def main(args: list[str] | None = None) -> None:
    """Usage mistakes (a bad option value, a missing argument) get the same one-line ``error:`` and exit 2
    as every other bad input, instead of a framed panel that a script reading stderr cannot parse."""
    args = sys.argv[1:] if args is None else args
    if args[:1] == ["run"]:
        from edgevision.cli.run_fast import parse

        values = parse(args[1:])
        if values is not None:  # a plain command line: no typer needed to know what it means
            from edgevision.cli.run_exec import run

            run(**values)
            sys.exit(0)
    import typer.main

    from edgevision.cli.coercion import install as install_plain_coercion

    try:
        from typer._click import exceptions as cx  # typer >= 0.17 vendors click
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import exceptions as cx  # type: ignore[no-redef]

    command = typer.main.get_command(build_app(invoked(args)))
    install_plain_coercion(command)
    try:
        rv = command.main(args=args, prog_name="edgevision", standalone_mode=False)
    except cx.NoArgsIsHelpError:
        command.main(args=args, prog_name="edgevision")  # prints the help, as before
        return
    except cx.ClickException as exc:
        ctx = getattr(exc, "ctx", None)  # usage errors know the command, so they can point at its --help
        hint = f" (see: {ctx.command_path if ctx is not None else 'edgevision'} --help)" \
            if isinstance(exc, cx.UsageError) else ""
        print(f"error: {' '.join(exc.format_message().split())}{hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
