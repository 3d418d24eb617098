"""The documentation: the site builds with no warning, the run option table follows the code, the README stays
short, and nothing the product says names an issue or points outside the repository."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from edgevision.session.run_options import RUN_TABLE, RunOption
from tests.conftest import REPO, need

DOCS = REPO / "docs"
HOOK = DOCS / "hooks" / "run_options.py"
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def product_texts() -> list[Path]:
    """Everything the product says about itself in prose: README, CHANGELOG, the site and its config."""
    return [REPO / "README.md", REPO / "CHANGELOG.md", REPO / "mkdocs.yml", *sorted(DOCS.rglob("*.md"))]


def load_hook() -> ModuleType:
    need(importlib.util.find_spec("mkdocs") is not None, "mkdocs not installed (pip install 'edgevision[docs]')")
    spec = importlib.util.spec_from_file_location("run_options_hook", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def public_api() -> list[str]:
    """Where each name of ``edgevision.__all__`` is defined (``module.qualname``), as mkdocstrings anchors it."""
    import edgevision

    found = []
    for name in edgevision.__all__:
        obj = getattr(edgevision, name)
        if callable(obj):
            found.append(f"{obj.__module__}.{obj.__qualname__}")
    return found


def all_flags(options: tuple[RunOption, ...]) -> list[str]:
    return [flag for o in options for flag in (*o.flags, *((o.negative,) if o.negative else ()))]


def test_site_builds_strict_with_the_generated_option_table(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link, a missing anchor or API target, any warning fails the build."""
    need(importlib.util.find_spec("mkdocs") is not None, "mkdocs not installed (pip install 'edgevision[docs]')")
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    outputs = (site / "outputs" / "index.html").read_text(encoding="utf-8")
    assert "run-options" not in outputs, "the marker was left in the page: the hook did not run"
    for flag in all_flags(RUN_TABLE):
        assert f"<code>{flag}</code>" in outputs, f"{flag} is missing from the generated run option table"
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for target in public_api():
        assert f'id="{target}"' in api, f"{target} (in edgevision.__all__) has no entry on the Python API page"
    assert not (site / "hooks").exists(), "the hook was published as a page asset"


def test_option_table_is_built_from_the_declaration() -> None:
    """An option added to RUN_TABLE appears in the docs with its flags, type, range, default and help."""
    hook = load_hook()
    extra = RunOption("frobnicate", ("--frobnicate", "-F"), float, 0.25, "Frobnicate by this much (a|b).",
                      min=0.0, max=1.0, envvar="EDGEVISION_FROB")
    table = hook.options_table((*RUN_TABLE, extra)).splitlines()
    assert table[0] == "| option | type | default | what it does |"
    assert len(table) == 2 + len(RUN_TABLE) + 1
    assert table[-1] == ("| `--frobnicate`, `-F` | number, 0 to 1 | `0.25`; `$EDGEVISION_FROB` "
                         "| Frobnicate by this much (a\\|b). |")
    source = next(row for row in table if row.startswith("| `--source`"))
    assert "**required**" in source
    stdout = next(row for row in table if row.startswith("| `--stdout`"))
    assert "`--no-stdout`" in stdout and "| switch | on |" in stdout
    with pytest.raises(Exception, match="empty"):
        hook.options_table(())


def test_hook_replaces_only_the_marker() -> None:
    hook = load_hook()
    config = {"config_file_path": str(REPO / "mkdocs.yml")}
    page = f"# Options\n\nbefore\n\n{hook.MARKER}\n\nafter\n"
    out = hook.on_page_markdown(page, None, config, None)
    assert hook.MARKER not in out and out.startswith("# Options\n\nbefore\n\n| option |") and out.endswith("after\n")
    assert hook.on_page_markdown("no marker here", None, config, None) == "no marker here"


def test_readme_is_short() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; explanations belong in docs/"


def test_product_texts_name_no_issue_and_no_development_history() -> None:
    issue = re.compile(r"[Ii]ssue [0-9]+")
    found = [f"{p.relative_to(REPO)}:{n}: {line.strip()}" for p in product_texts()
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if issue.search(line)]
    assert not found, "\n".join(found)


def test_nothing_links_outside_the_repository() -> None:
    """No link to ../shared (outside the checkout); every relative link of README and CHANGELOG resolves in it."""
    outside = [f"{p.relative_to(REPO)}" for p in product_texts() if "../shared" in p.read_text(encoding="utf-8")]
    assert not outside, outside
    broken = []
    for doc in (REPO / "README.md", REPO / "CHANGELOG.md"):
        for target in MARKDOWN_LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = (doc.parent / target.split("#", 1)[0]).resolve()
            if not resolved.is_relative_to(REPO) or not resolved.exists():
                broken.append(f"{doc.name}: {target}")
    assert not broken, broken
