"""Converter targets beyond a plain .tflite, as data: what each asks of a conversion and where its code lives.

``--target edgetpu`` checks an int8 model's readiness and compiles it when ``edgetpu_compiler`` is installed
(convert/edgetpu.py). A target whose network is made by another toolchain (``exclusive``: it replaces the
TFLite path and cannot be combined with another target) names the module that does it; that module defines
``check_options(opts, pol)``, ``check_brought(path, fmt)``, ``check_ready()``, ``convert_run(run_dir, opts, pol, con)``,
``convert_loaded(run, model, path, opts, pol, con, output, out_dir, source)`` and ``render(report)``.
Adding a target is such a module plus one line here (and a policy file in convert/ if it has defaults).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from edgevision.errors import BadInput


@dataclass(frozen=True)
class Target:
    name: str
    help: str
    exclusive: bool = False       # made by its own toolchain: not combined with other targets, no TFLite variants
    needs_int8: bool = False      # checks an int8 TFLite variant (--quant int8 or all)
    module: str | None = None     # where an exclusive target's conversion and report rendering live
    example: str = ""             # an `edgevision convert` example line for --help
    toolchain: str | None = None  # module with plan(python) and install(plan, force, on_step): its managed venv
    toolchain_help: str = ""

    def load(self) -> ModuleType:
        assert self.module is not None, f"target {self.name} has no module"
        return importlib.import_module(self.module)


TARGETS: tuple[Target, ...] = (
    Target("edgetpu", "check readiness, compile when edgetpu_compiler is installed", needs_int8=True),
    Target("imx500", "packerOut.zip for the Raspberry Pi AI Camera (Sony's toolchain)", exclusive=True,
           module="edgevision.convert.imx500.target", example="edgevision convert runs/flowers --target imx500",
           toolchain="edgevision.convert.imx500.setup",
           toolchain_help="Sony's Model Compression Toolkit and imxconv-tf (Python 3.11, TensorFlow 2.15: about 1 GB)"),
)
NAMES: tuple[str, ...] = tuple(t.name for t in TARGETS)


def by_name(name: str) -> Target:
    for target in TARGETS:
        if target.name == name:
            return target
    raise BadInput(f"--target {name!r}: unknown target; known: {', '.join(NAMES)}")


def exclusive_target(names: Iterable[str]) -> Target | None:
    """The one exclusive target asked for, or None; an exclusive target combined with another is refused."""
    asked = [by_name(n) for n in names]
    own = [t for t in asked if t.exclusive]
    if own and len(asked) > 1:
        raise BadInput(f"--target {own[0].name} cannot be combined with another target; convert once per target")
    return own[0] if own else None


def check_quant(names: Iterable[str], quant: str) -> None:
    for target in (by_name(n) for n in names):
        if target.needs_int8 and quant not in ("int8", "all"):
            raise BadInput(f"--target {target.name} needs an int8 model; got --quant {quant} (use int8 or all)")


def report_renderer(report: dict[str, Any]) -> Any:
    """The renderer of an exclusive target's report (its own shape), or None for the usual variants table."""
    name = report.get("target")
    target = next((t for t in TARGETS if t.name == name and t.module), None)
    return None if target is None else target.load().render


def toolchains() -> tuple[Target, ...]:
    """Targets whose converter lives in a venv of its own that ``edgevision toolchain install`` sets up."""
    return tuple(t for t in TARGETS if t.toolchain)


def help_lines() -> str:
    return "; ".join(f"{t.name}: {t.help}" for t in TARGETS) + "."
