"""The ``edgevision`` command. Each command lives in its own module; heavy imports stay inside them."""

from __future__ import annotations

import sys

import typer
import typer.main

from edgevision.cli import (
    bench_cmd,
    bundle_cmd,
    convert_cmd,
    data_cmd,
    demo_cmd,
    deploy_cmd,
    device_cmd,
    doctor_cmd,
    evaluate_cmd,
    info_cmd,
    run_cmd,
    train_cmd,
)
from edgevision.version import __version__


def _version(value: bool) -> None:
    if value:
        print(f"edgevision {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="edgevision", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
        help="From a folder of labelled images to real-time labels on a Raspberry Pi or a Coral.\n\n"
             "Exit codes: 0 ok, 1 a check failed (e.g. the accuracy gate), 2 bad input or usage.",
    )

    @app.callback()
    def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit.")) -> None:
        """edgevision command line."""

    for module in (demo_cmd, data_cmd, train_cmd, evaluate_cmd, convert_cmd, info_cmd, run_cmd, doctor_cmd,
                   bench_cmd, bundle_cmd, deploy_cmd, device_cmd):
        module.register(app)
    return app


def main() -> None:
    """Usage mistakes (a bad option value, a missing argument) get the same one-line ``error:`` and exit 2
    as every other bad input, instead of a framed panel that a script reading stderr cannot parse."""
    try:
        from typer._click import exceptions as cx  # typer >= 0.17 vendors click
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import exceptions as cx  # type: ignore[no-redef]

    command = typer.main.get_command(build_app())
    try:
        rv = command.main(args=sys.argv[1:], prog_name="edgevision", standalone_mode=False)
    except cx.NoArgsIsHelpError:
        command.main(args=sys.argv[1:], prog_name="edgevision")  # prints the help, as before
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
