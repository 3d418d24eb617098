"""``edgevision toolchain install imx500``: set up a converter toolchain in a venv edgevision manages."""

from __future__ import annotations

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json

TOOLCHAINS = ("imx500",)


def register(commands: Commands) -> None:
    toolchain = commands.group("toolchain", "Converter toolchains that live in their own venv.",
                               epilog="Examples:\n\n  edgevision toolchain install imx500")
    p = toolchain.add("install", install, epilog="Examples:\n\n  edgevision toolchain install imx500\n\n"
                                                 "  edgevision toolchain install imx500 --python /usr/bin/python3.11 "
                                                 "--dry-run")
    argument(p, "name", kind=str, help="imx500: Sony's Model Compression Toolkit and imxconv-tf.")
    option(p, "--python", help="The Python 3.11 to build the venv with (default: python3.11 on PATH).")
    option(p, "--force", kind=bool, default=False, help="Reinstall even when it is already set up.")
    option(p, "--dry-run", kind=bool, default=False, help="Say where and what would be installed; change nothing.")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print one JSON object.")


@handle_errors
def install(*, name: str, python: str | None, force: bool, dry_run: bool, json_out: bool) -> None:
    """Install a toolchain once (the IMX500 one needs Python 3.11 and TensorFlow 2.15: about 1 GB)."""
    from edgevision.convert.imx500.setup import install as do_install
    from edgevision.convert.imx500.setup import plan
    from edgevision.errors import BadInput

    if name not in TOOLCHAINS:
        raise BadInput(f"toolchain {name!r}: choose one of {', '.join(TOOLCHAINS)}")
    p = plan(python)
    if dry_run:
        result = {**p.to_dict(), "changed": False, "dry_run": True}
    else:
        with err_console().status("IMX500 toolchain") as status:
            result = do_install(p, force=force, on_step=lambda what: status.update(f"IMX500 toolchain: {what}"))
    if json_out:
        print_json(result)
        return
    con = out_console()
    if result.get("dry_run"):
        con.print("already installed" if p.installed else "would run:", markup=False)
        for step in result["steps"]:
            con.print(f"  {step}", markup=False, highlight=False, soft_wrap=True)
    else:
        con.print(f"IMX500 toolchain {'installed' if result['changed'] else 'already installed'} in "
                  f"{result['venv']}", markup=False, highlight=False, soft_wrap=True)
    if not p.java:
        err_console().print("warning: imxconv-tf also needs Java at conversion time: sudo apt install "
                            "openjdk-17-jre-headless", markup=False, highlight=False)
