"""Every command's human output over hostile text: labels, file and folder names, profile and device names,
a web token, a labels log and a device's files that carry terminal controls (CSI that clears the screen,
OSC that retitles the window or plants a hyperlink, C1 controls, a carriage return), bidi overrides, rich
markup (``[/b]`` used to crash the printers, ``[bold red]`` would restyle them), emoji codes and very long
lines. What comes out is shown, never obeyed: no raw control character reaches stdout or stderr, the
markup is printed as the text it is, and nothing crashes. Runs in the TF-free device virtualenv."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# What a terminal acts on: C0 controls but the line feed, DEL, C1 controls, bidi marks/overrides/isolates,
# line and paragraph separators.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
OSC8 = "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\"
LABEL_SETS = {
    "escapes": ["\x1b[2J\x1b[Hcleared", "\x1b]0;retitled\x07title", OSC8, "[/b]", "[bold red]styled"],
    "others": ["\u202eevil\u202c", "\x9b31mcsi", "long" + "y" * 2000, ":smile: %s {0}", "tab\there\x7fdel"],
}
MARKUP = "[bold red]styled"
SEEN = {"escapes": ("[/b]", MARKUP, "\\x1b]0;retitled\\x07title"), "others": ("\\u202eevil", "\\x9b31mcsi",
                                                                            ":smile: %s {0}")}


def check(proc: subprocess.CompletedProcess[str], *visible: str, codes: tuple[int, ...] = (0,)) -> str:
    """The run ended with one of ``codes``, without a traceback or a raw control character, and shows each
    of ``visible`` literally."""
    text = proc.stdout + proc.stderr
    assert proc.returncode in codes, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in text and "MarkupError" not in text, proc.stderr[-3000:]
    found = RAW.search(text)
    assert found is None, f"raw {found.group()!r} in: {text[max(0, found.start() - 200):found.end() + 200]!r}"
    for v in visible:
        assert v in text, f"{v!r} not shown literally in: {text[-3000:]!r}"
    return text


@pytest.fixture(scope="module")
def hostile(models, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Labels files for the 5-class shapes model, folders of its test images with hostile names, the model
    under a hostile file name, a profile with a hostile name (a file name cannot hold a '/': no [/b] there)."""
    d = tmp_path_factory.mktemp("hostile")
    files: dict[str, Path] = {}
    for name, labels in LABEL_SETS.items():
        files[name] = d / f"{name}.txt"
        files[name].write_text("\n".join(labels) + "\n", encoding="utf-8")
    images = sorted((models.data / "test" / "star").glob("*.png"))[:3]
    for key, folder in (("controls", "cam \x1b]0;pwned\x07\x1b[2J\u202e[bold red]x"),
                        ("markup", "cam [link=evil.example]x")):
        files[key] = d / folder
        files[key].mkdir()
        for png in images:
            shutil.copy(png, files[key] / png.name)
    files["model"] = Path(shutil.copy(models.int8, d / "[bold red]m.tflite"))
    profile = (Path(__file__).resolve().parents[2] / "device" / "profiles" / "x86-64.toml").read_text()
    files["profile"] = d / "hostile.toml"
    files["profile"].write_text(profile.replace('name = "x86-64"', 'name = "x86 [/b][bold red]64"', 1))
    return files


@pytest.mark.parametrize("labels", sorted(LABEL_SETS))
def test_info_shows_hostile_labels_inert(cli, models, hostile, labels: str) -> None:
    check(cli("info", models.int8, "--labels", hostile[labels]), *SEEN[labels])
    check(cli("info", hostile["model"], "--labels", hostile[labels]), "[bold red]m.tflite", *SEEN[labels])


def test_doctor_run_and_errors_show_hostile_text_inert(cli, models, hostile) -> None:
    for labels in sorted(LABEL_SETS):
        check(cli("doctor", models.int8, "--labels", hostile[labels], "--source", hostile["controls"], "--frames",
                  "2"), "\\x1b]0;pwned\\x07\\x1b[2J\\u202e[bold red]x", codes=(0, 1))
        out = cli("run", models.int8, "--labels", hostile[labels], "--source", hostile["controls"], "--max-frames",
                  "3")
        check(out, "\\x1b]0;pwned\\x07\\x1b[2J\\u202e[bold red]x")  # the summary names the source, shown
        events = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(events) == 3 and all(e["label"] in LABEL_SETS[labels] for e in events)  # JSON keeps the value
    out = cli("run", models.int8, "--source", hostile["markup"], "--max-frames", "1", "--web", "0", "--host",
              "0.0.0.0", "--web-token", "[/b]tok[red]1234", "--no-stdout")
    check(out, "?token=[/b]tok[red]1234", "cam [link=evil.example]x")
    missing = hostile["controls"] / "no \x1b]0;x\x07 [bold red].tflite"
    check(cli("info", missing), "[bold red].tflite", codes=(2,))
    check(cli("run", models.int8, "--source", missing), "[bold red].tflite", codes=(2,))
    check(cli("device", "secret", "set", "\x1b[2J[/b]", "--root", hostile["markup"]), "\\x1b[2J[/b]", codes=(2,))


def test_bundle_and_every_device_command_show_hostile_text_inert(cli, models, hostile, tmp_path: Path) -> None:
    root = tmp_path / "root"
    ids = []
    for n, labels in enumerate(sorted(LABEL_SETS)):
        bundle = tmp_path / f"b{n}"
        out = cli("bundle", hostile["model"], "--profile", hostile["profile"], "--labels", hostile[labels],
                  "--source", hostile["markup"], "--out", bundle, "--sink", "mqtt=mqtt://broker/[/b]")
        check(out, "x86 [/b][bold red]64", "cam [link=evil.example]x", "[bold red]m.tflite", "mqtt://broker/[/b]")
        manifest = json.loads((bundle / "manifest.json").read_text())
        ids.append(manifest["id"])
        check(cli("device", "verify", bundle, "--root", root), "x86 [/b][bold red]64")
        check(cli("device", "install", bundle, "--root", root))
        check(cli("device", "activate", manifest["id"], "--root", root))
    # the service's labels log, as a model with these labels writes it
    with open(root / "labels.jsonl", "w", encoding="utf-8") as fh:
        for i, label in enumerate([*LABEL_SETS["escapes"], "carriage\rreturn"]):
            fh.write(json.dumps({"frame": i, "label": label, "score": 0.5, "t_emit": 1e9 + i,
                                 "source": f"cam \x1b]0;log\x07 {label}"}) + "\n")
    status = check(cli("device", "status", "--root", root, "--labels", "6"), MARKUP, "[/b]", "carriage\\x0dreturn",
                   "x86 [/b][bold red]64", "cam [link=evil.example]x")
    assert "\\x1b]0;log\\x07" in status
    check(cli("device", "rollback", "--root", root, "--no-restart"))
    check(cli("device", "status", "--root", root, "--json"))  # JSON: escaped by JSON itself
    check(cli("device", "activate", "no-such-\x1b[2J[/b]", "--root", root), "no-such-\\x1b[2J[/b]", codes=(2,))


def test_bench_tables_show_hostile_names_inert(cli, hostile, tmp_path: Path) -> None:
    store = tmp_path / "bench.sqlite"
    name = "dev \x1b]0;pwned\x07\u202e [/b][bold red]box\r"
    check(cli("bench", hostile["model"], "--runs", "3", "--warmup", "0", "--threads", "1", "--device-name", name,
              "--store", store), "[bold red]m.tflite")
    check(cli("bench", "list", "--store", store), "[/b][bold red]box", "\\x1b]0;pwned\\x07", "[bold red]m")
    check(cli("bench", "report", "--store", store, "--out", tmp_path / "report"), "[/b][bold red]box")
    html = (tmp_path / "report" / "bench_report.html").read_text()
    assert "<script" not in html.replace("<script>", "") and "[bold red]m" in html


@pytest.mark.parametrize("text", [*LABEL_SETS["escapes"], *LABEL_SETS["others"], "a\rb", "x\u2028y", "\ud800",
                                  "\u2066iso\u2069", "\x00nul", "\x85nel", "ascii\x7fdel"])
def test_the_helpers_show_every_active_character_and_keep_the_value(text: str) -> None:
    from rich.console import Console
    from rich.text import Text

    from edgevision.console import inert, inert_html, inert_json, inert_markup

    shown = inert(text)
    assert not RAW.search(shown) and "\ud800" not in shown
    assert inert(text.replace("\x1b", "")) == inert(text).replace("\\x1b", "")  # one character, one escape
    rendered = Console(width=10_000, emoji=False).render_str(inert_markup(text))
    # markup escaped: printed as the text it is (a trailing backslash doubled, so it cannot escape what follows)
    assert isinstance(rendered, Text) and rendered.plain.rstrip("\\") == shown.rstrip("\\")
    assert "<" not in inert_html(text + "<script>")
    dumped = inert_json(json.dumps({"label": text}, ensure_ascii=False))
    assert not RAW.search(dumped) and json.loads(dumped) == {"label": text}


@pytest.mark.parametrize("label", ["plain", "ascii\x7fdel", "c0\x1b[2J", "c1\x9b31m", "bidi\u202eevil", "caf\u00e9"])
def test_an_events_json_line_is_inert_and_keeps_the_label(label: str) -> None:
    from edgevision.pipeline.events import LabelEvent
    from edgevision.runtime.postprocess import Prediction

    event = LabelEvent.classified(3, "cam", (Prediction(label, 0.5, 1),), 1.0, 2.0, {"infer": 1.0})
    line = event.to_json()
    assert not RAW.search(line) and "\n" not in line
    assert json.loads(line)["label"] == label and json.loads(line)["top_k"][0]["label"] == label


def test_credentials_are_dropped_from_urls_and_free_text() -> None:
    from edgevision.console import inert
    from edgevision.redact import scrub_userinfo, with_userinfo, without_userinfo

    assert without_userinfo("rtsp://admin:p@ss@cam.local:554/live?x=1") == "rtsp://cam.local:554/live?x=1"
    assert without_userinfo("/videos/clip@2x.mp4") == "/videos/clip@2x.mp4"
    assert scrub_userinfo("cannot open http://u:pw@h/a and mqtt://cam@b/t; mail a@b.c") == \
        "cannot open http://h/a and mqtt://b/t; mail a@b.c"
    assert inert("error at rtsp://u:secret@cam/x") == "error at rtsp://cam/x"
    assert with_userinfo("rtsp://cam/x", "ad min:p@ss:w/rd") == "rtsp://ad%20min:p%40ss:w%2Frd@cam/x"
