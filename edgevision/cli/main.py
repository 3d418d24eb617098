"""The ``edgevision`` command. Each command lives in its own module; heavy imports stay inside them."""

from __future__ import annotations

import typer

from edgevision import __version__
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
    build_app()(prog_name="edgevision")


if __name__ == "__main__":
    main()
