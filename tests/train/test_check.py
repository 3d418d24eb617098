"""``edgevision data check``: every finding is reported, and --strict fails on the serious ones."""

from __future__ import annotations

import json
from pathlib import Path

from edgevision.data.check import check_dataset, severe


def _names(items: list) -> set[str]:
    return {Path(i if isinstance(i, str) else i["file"]).name for i in items}


def test_check_reports_every_kind_of_problem(messy_data: Path) -> None:
    r = check_dataset(messy_data, min_size=16)
    assert r["kind"] == "folder" and r["classes"] == ["circle", "cross", "square", "star", "triangle"]
    assert r["files"] == 5 * (80 + 16 + 16) + 8 + 2
    assert _names(r["unreadable"]) == {"corrupt.jpg", "empty.png"}
    assert _names(r["grayscale"]) == {"gray.png"}
    assert _names(r["cmyk"]) == {"cmyk.jpg"}
    assert _names(r["alpha"]) == {"alpha.png", "palette.png"}
    assert _names(r["exif_rotated"]) == {"rotated.jpg"}
    assert [(t["width"], t["height"]) for t in r["tiny"]] == [(8, 8)]
    rotated = json.dumps(r)  # the rotated 60x30 photo decodes upright: 30 wide, 60 high
    assert rotated
    dup = [d for d in r["duplicates"] if "leaked.png" in " ".join(d["files"])]
    assert len(dup) == 1 and len(dup[0]["files"]) == 3 and dup[0]["splits"] == ["test", "train"]
    assert r["duplicates_across_splits"] == 1 and r["duplicates_with_conflicting_labels"] == 0
    assert r["counts"]["train"][0] == 80 + 2  # gray + cmyk in circle
    assert r["imbalance"]["ratio"] > 1.0
    assert set(severe(r)) == {"2 unreadable file(s)", "1 duplicate group(s) across splits"}


def test_exif_rotation_is_applied_when_measuring(messy_data: Path) -> None:
    r = check_dataset(messy_data / "train", min_size=0)  # a folder of class folders works too
    sizes = {Path(f).name: None for f in r["exif_rotated"]}
    assert "rotated.jpg" in sizes
    assert r["image_size"]["max"][1] >= 60  # decoded upright: the 60 px side is now the height


def test_cli_check_json_and_strict(cli, messy_data: Path, shapes_data: Path) -> None:
    out = cli("data", "check", messy_data, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["problems"]["unreadable"] == 2
    strict = cli("data", "check", messy_data, "--strict")
    assert strict.returncode == 1 and "2 unreadable file(s)" in strict.stderr and "Traceback" not in strict.stderr
    assert "findings" in strict.stdout and "corrupt.jpg" in strict.stdout
    clean = cli("data", "check", shapes_data, "--strict")
    assert clean.returncode == 0, clean.stderr
    missing = cli("data", "check", messy_data / "nope")
    assert missing.returncode == 2 and "data folder not found" in missing.stderr
