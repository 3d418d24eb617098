"""Homes: a module's name says what it holds, once. No two modules of edgevision share a name, and no module is
named like a package (``report`` the module vs ``report`` the package reads as the same thing in a traceback)."""

from __future__ import annotations

from collections import Counter

from tests.conftest import REPO

PACKAGE = REPO / "edgevision"


def test_module_names_are_unique_across_packages() -> None:
    names = Counter(p.stem for p in PACKAGE.rglob("*.py") if p.stem not in ("__init__", "__main__"))
    assert [n for n, c in names.items() if c > 1] == []


def test_no_module_is_named_like_a_package() -> None:
    packages = {p.parent.name for p in PACKAGE.rglob("__init__.py")}
    modules = {p.stem for p in PACKAGE.rglob("*.py") if p.stem not in ("__init__", "__main__")}
    assert sorted(modules & packages) == []


def test_one_backend_is_named_only_in_its_packages_and_the_registries() -> None:
    """The IMX500 is a plug-in: the rest of edgevision reaches it through the backend and converter-target
    registries, so its name appears nowhere else (a new backend or target is one package and one row)."""
    naming = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
              if "imx500" in p.read_text(encoding="utf-8")}
    outside = sorted(n for n in naming if not n.startswith(("imx500/", "convert/imx500/")))
    assert outside == ["convert/targets.py", "runtime/backends.py"]
