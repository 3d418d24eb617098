"""``edgevision toolchain install NAME``: set up a converter target's toolchain in a venv edgevision manages."""

from __future__ import annotations

import importlib

from edgevision.cli.arguments import Commands, argument, option
from edgevision.cli.common import err_console, handle_errors, out_console, print_json
from edgevision.convert.targets import toolchains


def register(commands: Commands) -> None:
    names = [t.name for t in toolchains()]
    examples = "".join(f"\n\n  edgevision toolchain install {n}" for n in names)
    toolchain = commands.group("toolchain", "Converter toolchains that live in their own venv.",
                               epilog="Examples:" + examples)
    p = toolchain.add("install", install, epilog="Examples:" + examples + "".join(
        f"\n\n  edgevision toolchain install {n} --python /usr/bin/python3.11 --dry-run" for n in names[:1]))
    argument(p, "name", kind=str, help="; ".join(f"{t.name}: {t.toolchain_help}" for t in toolchains()) + ".")
    option(p, "--python", help="The Python to build the venv with (default: the one the toolchain needs, on PATH).")
    option(p, "--force", kind=bool, default=False, help="Reinstall even when it is already set up.")
    option(p, "--dry-run", kind=bool, default=False, help="Say where and what would be installed; change nothing.")
    option(p, "--json", kind=bool, default=False, dest="json_out", help="Print one JSON object.")


@handle_errors
def install(*, name: str, python: str | None, force: bool, dry_run: bool, json_out: bool) -> None:
    """Install a toolchain once (it lives in its own venv: its Python and TensorFlow differ from this one's)."""
    from edgevision.errors import BadInput

    target = next((t for t in toolchains() if t.name == name), None)
    if target is None or target.toolchain is None:
        raise BadInput(f"toolchain {name!r}: choose one of {', '.join(t.name for t in toolchains())}")
    setup = importlib.import_module(target.toolchain)
    p = setup.plan(python)
    title = f"{name} toolchain"
    if dry_run:
        result = {**p.to_dict(), "changed": False, "dry_run": True}
    else:
        with err_console().status(title) as status:
            result = setup.install(p, force=force, on_step=lambda what: status.update(f"{title}: {what}"))
    if json_out:
        print_json(result)
        return
    con = out_console()
    if result.get("dry_run"):
        con.print("already installed" if p.installed else "would run:", markup=False)
        for step in result["steps"]:
            con.print(f"  {step}", markup=False, highlight=False, soft_wrap=True)
    else:
        con.print(f"{title} {'installed' if result['changed'] else 'already installed'} in {result['venv']}",
                  markup=False, highlight=False, soft_wrap=True)
    for warning in p.warnings():
        err_console().print(f"warning: {warning}", markup=False, highlight=False)
