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
