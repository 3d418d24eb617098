"""The monitoring page and the Grafana dashboard speak of the metrics the code exports, and only of those."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edgevision.sinks.prometheus import METRIC_NAMES
from tests.conftest import REPO

DASHBOARD = REPO / "docs" / "grafana" / "edgevision.json"
PAGE = REPO / "docs" / "monitoring.md"
NAME = re.compile(r"\b((?:edgevision|process)_[a-z0-9_]+)\b(?![./])")  # not a file name
SUFFIXES = ("_bucket", "_count", "_sum")


def _family(name: str) -> str | None:
    """The exported family a series name belongs to (a histogram's _bucket/_count/_sum included), or None."""
    if name in METRIC_NAMES:
        return name
    for suffix in SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and METRIC_NAMES.get(base) == "histogram":
            return base
    return None


def _exprs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in ("expr", "definition") and isinstance(v, str)]
        query = node.get("query")
        if isinstance(query, dict) and isinstance(query.get("query"), str):
            found.append(query["query"])
        return found + [e for v in node.values() for e in _exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in _exprs(v)]
    return []


def test_the_dashboard_refers_only_to_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = _exprs(dashboard)
    assert len(exprs) >= 15
    used = {name for e in exprs for name in NAME.findall(e)}
    unknown = sorted(n for n in used if _family(n) is None)
    assert not unknown, f"the dashboard queries series the code does not export: {unknown}"
    assert {_family(n) for n in used} >= {"edgevision_fps", "edgevision_glass_to_label_seconds",
                                          "edgevision_drifting", "edgevision_drift_psi", "edgevision_labels_total",
                                          "edgevision_top1_confidence", "edgevision_soc_temperature_celsius",
                                          "edgevision_throttled"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])
    for p in dashboard["panels"]:  # no two panels overlap on Grafana's 24-column grid
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        others = [q["gridPos"] for q in dashboard["panels"] if q is not p]
        assert not any(o["x"] < g["x"] + g["w"] and g["x"] < o["x"] + o["w"] and o["y"] < g["y"] + g["h"]
                       and g["y"] < o["y"] + o["h"] for o in others), p["title"]


def test_the_monitoring_page_lists_every_exported_metric_and_no_other() -> None:
    text = PAGE.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    listed = {n for line in rows for n in NAME.findall(line.split("|")[1])}
    assert listed == set(METRIC_NAMES), (sorted(set(METRIC_NAMES) - listed), sorted(listed - set(METRIC_NAMES)))
    mentioned = set(NAME.findall(text))
    assert all(_family(n) is not None for n in mentioned), sorted(n for n in mentioned if _family(n) is None)
    assert "grafana/edgevision.json" in text and Path(DASHBOARD).is_file()
