"""The record of one `make bench`: the machine, the date, the commit and what each suite printed, as Markdown.

A suite's output is printed as it was, inside a code fence longer than any run of backticks in it, so
nothing a suite prints can end the fence or turn into Markdown; a one-line error in the summary table has
its pipes and backticks escaped for the same reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SuiteRun:
    """What one suite did: its command line, exit status, the seconds it took, its stdout, and why it failed."""

    name: str
    about: str            # what it compares (the first line of its docstring)
    command: str
    returncode: int
    seconds: float
    stdout: str
    error: str = ""       # one line, set when the suite failed

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _cell(text: str) -> str:
    """Table-cell text: one line, pipes and backticks made inert."""
    one = " ".join(text.split())
    return one.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def _fenced(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def result_cell(run: SuiteRun) -> str:
    if run.ok:
        return "ok"
    return _cell(f"failed (exit {run.returncode}): {run.error}" if run.error else f"failed (exit {run.returncode})")


def render(title: str, facts: list[tuple[str, str]], runs: list[SuiteRun], notes: str = "") -> str:
    """The whole record: a title, a table of facts (machine, date, commit...), a summary, a section a suite."""
    lines = [f"# {title}", ""]
    if notes:
        lines += [notes, ""]
    lines += ["| | |", "|---|---|", *(f"| {_cell(k)} | {_cell(v)} |" for k, v in facts), ""]
    lines += ["## Summary", "", "| suite | result | seconds |", "|---|---|---|"]
    lines += [f"| [{r.name}](#{r.name}) | {result_cell(r)} | {r.seconds:.0f} |" for r in runs]
    for r in runs:
        lines += ["", f"## {r.name}", "", _cell(r.about), "", f"`{_cell(r.command)}`: {result_cell(r)}", ""]
        lines += [_fenced(r.stdout or "(no output)")]
    return "\n".join(lines) + "\n"


def fingerprint_facts(fp: dict[str, Any]) -> list[tuple[str, str]]:
    """The machine rows of the facts table, from edgevision's bench fingerprint (``Fingerprint.to_dict()``)."""
    mhz = f"{fp['max_mhz']:.0f} MHz" if fp.get("max_mhz") else "unknown"
    rows = [("board", fp.get("board") or "unknown"), ("cpu", fp.get("cpu") or "unknown"),
            ("cores", f"{fp.get('cores')} usable"), ("arch", fp.get("arch", "")), ("max clock", mhz),
            ("memory", f"{fp.get('memory_mb')} MB"), ("isa", " ".join(fp.get("isa", [])) or "-"),
            ("os", fp.get("os", "")), ("kernel", fp.get("kernel", "")), ("python", fp.get("python", "")),
            ("interpreter", f"{fp.get('runtime')} {fp.get('runtime_version')}"),
            ("device id", fp.get("device_id", ""))]
    if fp.get("emulated"):
        rows.append(("emulated", fp["emulated"]))
    return rows
