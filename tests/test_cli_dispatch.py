"""One parser reads every command line; a start builds only the command it runs.

``edgevision X ...`` imports and builds only command X (``edgevision.cli.main``); these tests fail if that
changes what a user gets (a command's ``--help``, the list of commands, usage errors), and they pin what
the parser reads command lines as: these lines to these values, those to this one-line error and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURE_MODELS, REPO

COMMANDS = ("demo", "data", "train", "evaluate", "convert", "info", "run", "doctor", "bench", "bundle", "deploy",
            "device", "toolchain")
SUBCOMMANDS = (("data", "check"), ("bench", "run"), ("bench", "report"), ("device", "status"),
               ("device", "service"), ("device", "service", "logs"), ("toolchain", "install"),
               ("device", "baseline"), ("device", "samples", "pull"))
HANDLER, REACHED = "edgevision handler", "edgevision parser"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _edgevision(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgevision", *args], capture_output=True, text=True,
                          env=env or _env(), timeout=120)


def _full_cli_help(*args: str) -> str:
    """What the parser with every command prints for ``args`` (in-process, as a start without the fast path)."""
    from edgevision.cli.main import build_parser

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        build_parser().parse_args(list(args))
    assert stop.value.code == 0, out.getvalue()
    return out.getvalue()


def _listed(help_text: str) -> list[str]:
    """The command names a help page lists under "Commands:", in order."""
    lines = help_text.splitlines()
    start = lines.index("Commands:")
    listed = []
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):
            break  # the next section
        words = line.split()
        if line.startswith("    ") and not line.startswith("     ") and words:
            listed.append(words[0])
    return listed


def test_the_command_table_is_the_full_cli() -> None:
    from edgevision.cli.main import COMMANDS as TABLE
    from edgevision.cli.main import build_parser, invoked

    assert tuple(TABLE) == COMMANDS
    full = build_parser().commands
    assert full is not None and tuple(full.parsers) == COMMANDS
    for name in COMMANDS:
        only = build_parser(name).commands
        assert only is not None and list(only.parsers) == [name]
        assert invoked([name, "--help"]) == name
    for args in ([], ["--help"], ["--version"], ["frobnicate"], ["--help", "run"], ["-x", "run"]):
        assert invoked(args) is None, args  # the full CLI answers these


def test_every_command_help_is_the_full_clis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ``edgevision X --help`` in its own interpreter (the fast path) prints exactly the full CLI's help."""
    monkeypatch.setenv("COLUMNS", "200")
    cases = [(c,) for c in COMMANDS] + list(SUBCOMMANDS)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: _edgevision(*case, "--help"), cases))
    for case, r in zip(cases, results, strict=True):
        assert r.returncode == 0 and r.stderr == "", (case, r.stderr)
        assert r.stdout == _full_cli_help(*case, "--help"), case
        assert f"Usage: edgevision {' '.join(case)} " in r.stdout, r.stdout


def test_top_level_help_and_no_arguments_list_every_command() -> None:
    """``--help`` exits 0; no arguments prints the same help and exits 2 (as a group without its sub-command)."""
    helped, bare, group = _edgevision("--help"), _edgevision(), _edgevision("device", "service")
    assert helped.returncode == 0 and bare.returncode == 2 and group.returncode == 2
    assert "Traceback" not in helped.stderr + bare.stderr + group.stderr
    assert _listed(helped.stdout) == list(COMMANDS) and bare.stdout == helped.stdout
    assert _listed(group.stdout) == ["restart", "stop", "logs", "unit"]
    device = _edgevision("device", "--help").stdout
    assert _listed(device) == ["status", "rollback", "verify", "install", "activate", "service", "secret", "baseline",
                               "samples"]
    assert "supervise" not in device and "serve" not in device  # what the service runs is not for users
    version = _edgevision("--version")
    assert version.returncode == 0 and version.stdout.startswith("edgevision ") and version.stdout.count("\n") == 1


@pytest.mark.parametrize(("args", "needles"), [
    (("frobnicate",), ("no such command: frobnicate", "(see: edgevision --help)")),
    (("-x", "run"), ("no such option: -x", "(see: edgevision --help)")),
    (("run",), ("required", "MODEL", "--source", "(see: edgevision run --help)")),
    (("run", "m.tflite"), ("required: --source", "edgevision run --help")),
    (("run", "m.tflite", "--source", "x.jpg", "--top-k", "0"), ("--top-k: 0 is below the minimum 1",
                                                                "edgevision run --help")),
    (("run", "m.tflite", "--source", "x.jpg", "--threshold", "1.5"), ("--threshold: 1.5 is above the maximum 1",)),
    (("run", "m.tflite", "--source", "x.jpg", "--smooth", "two"), ("--smooth: expected an integer, got 'two'",)),
    (("run", "m.tflite", "-s", "x.jpg", "--read-timeout", "nan"), ("--read-timeout: expected a number, got 'nan'",)),
    (("run", "m.tflite", "--source", "x.jpg", "--frob"), ("no such option: --frob", "edgevision run --help")),
    (("run", "m.tflite", "--sourc", "x.jpg"), ("no such option: --sourc",)),  # no abbreviations
    (("run", "m.tflite", "n.tflite", "-s", "x"), ("unexpected extra argument: n.tflite",)),
    (("run", "m.tflite", "-s", "x", "--quiet=1"), ("--quiet",)),
    (("run", "m.tflite", "-s"), ("--source: expected one argument",)),
    (("info", ""), ("MODEL: expected a path, got an empty value", "(see: edgevision info --help)")),
    (("run", "m.tflite", "-s", "x", "--out", ""), ("--out: expected a path, got an empty value",)),
    (("device", "frobnicate"), ("no such command: frobnicate", "edgevision device --help")),
    (("device", "status", "--labels", "-1"), ("--labels: -1 is below the minimum 0",
                                              "(see: edgevision device status --help)")),
    (("device", "service", "logs", "-n", "x"), ("--lines", "edgevision device service logs --help")),
    (("bench", "m.tflite", "--threads", "0"), ("--threads: 0 is below the minimum 1", "edgevision bench run --help")),
    (("bench", "report", "--frob"), ("no such option: --frob", "edgevision bench report --help")),
    (("deploy", "b.tar.gz", "pi@host", "--port", "65536"), ("--port: 65536 is above the maximum 65535",)),
    (("doctor", "m.tflite", "--timeout", "0.5"), ("--timeout: 0.5 is below the minimum 1",)),
])
def test_usage_errors_are_one_line(args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    r = _edgevision(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr and "usage" not in r.stderr.lower()
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_option_values_are_read_or_refused_with_the_bound() -> None:
    """Every typed value goes through the converter a bundle's values go through (optionspec.convert):
    what it reads, what it refuses and how argparse then says so; a value typed by a user is printed
    inert (control characters escaped)."""
    from edgevision.cli.arguments import converter, one_line
    from edgevision.optionspec import RunOption

    top_k = converter(RunOption("top_k", ("--top-k",), int, 3, "", min=1))
    port = converter(RunOption("port", ("--port",), int, None, "", min=0, max=65535))
    timeout = converter(RunOption("t", ("--read-timeout",), float, 5.0, "", min=0.1))
    path = converter(RunOption("out", ("--out",), Path, None, ""))
    assert converter(RunOption("host", ("--host",), str, None, "")) is None  # text stays text
    assert top_k is not None and port is not None and timeout is not None and path is not None
    assert [top_k(v) for v in ("3", "+3", " 4", "007")] == [3, 3, 4, 7]
    assert port("0") == 0 and port("65535") == 65535
    assert timeout("0.1") == 0.1 and timeout("1e3") == 1000.0 and timeout(".5") == 0.5
    refused = {(top_k, "0"): "0 is below the minimum 1", (top_k, "-1"): "-1 is below the minimum 1",
               (top_k, "2.5"): "expected an integer, got '2.5'", (top_k, "two"): "expected an integer, got 'two'",
               (top_k, ""): "expected an integer, got ''", (port, "65536"): "65536 is above the maximum 65535",
               (timeout, "0.05"): "0.05 is below the minimum 0.1", (timeout, "nan"): "expected a number, got 'nan'",
               (timeout, "inf"): "expected a number, got 'inf'", (path, ""): "expected a path, got an empty value"}
    for (convert, text), message in refused.items():
        with pytest.raises(argparse.ArgumentTypeError) as err:
            convert(text)
        assert str(err.value) == message, (text, str(err.value))  # argparse puts "--flag: " in front
    assert path("a/b") == Path("a/b")
    assert one_line("no such option: --x\x1b[31m\nred") == "no such option: --x\\x1b[31m red"


def test_run_starts_without_typer_pydantic_or_rich(tmp_path: Path) -> None:
    """The start of ``edgevision run --quiet`` imports neither typer, click, pydantic, rich nor rich-argparse,
    nor any other command's module, and still labels the image."""
    import cv2
    import numpy as np

    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.full((48, 64, 3), 127, np.uint8))
    code = ("import runpy, sys, json\n"
            f"sys.argv = ['edgevision', 'run', {str(FIXTURE_MODELS / 'tiny_int8.tflite')!r}, '--source', "
            f"{str(image)!r}, '--quiet', '--top-k=2', '--no-realtime', '-s', {str(image)!r}]\n"
            "try:\n    runpy.run_module('edgevision', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'pydantic', "
            "'pydantic_core', 'rich', 'rich_argparse') or (m.startswith('edgevision.cli.') and m.endswith('_cmd') "
            "and m != 'edgevision.cli.run_cmd'))), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(events) == 1 and len(events[0]["top_k"]) == 2, r.stdout + r.stderr
    assert json.loads(r.stderr.strip().splitlines()[-1]) == [], r.stderr


# command lines after `run`, and what they set besides the defaults
RUN_LINES: list[tuple[list[str], dict[str, Any]]] = [
    (["m.tflite", "--source", "x.jpg"], {"source": "x.jpg"}),
    (["--source", "x.jpg", "m.tflite", "--quiet"], {"source": "x.jpg", "quiet": True}),
    (["m.tflite", "-s", "0", "-q", "--top-k", "5", "--threshold", "0.25", "--smooth=3", "--threads", "2"],
     {"source": "0", "quiet": True, "top_k": 5, "threshold": 0.25, "smooth": 3, "threads": 2}),
    (["m.tflite", "-s", "http://cam/stream.mjpg", "--no-realtime", "--realtime", "--max-frames", "10", "--loop"],
     {"source": "http://cam/stream.mjpg", "realtime": True, "max_frames": 10, "loop": True}),
    (["m.tflite", "-s", "a", "--no-stdout", "--out", "labels.jsonl", "--mqtt", "mqtt://u@h:1883/t", "--mqtt-node",
      "pi", "--no-mqtt-discovery", "--mqtt-ca", "ca.pem", "--mqtt-cert", "c.pem", "--mqtt-key", "k"],
     {"source": "a", "stdout": False, "out": Path("labels.jsonl"), "mqtt": "mqtt://u@h:1883/t", "mqtt_node": "pi",
      "mqtt_discovery": False, "mqtt_ca": Path("ca.pem"), "mqtt_cert": Path("c.pem"), "mqtt_key": Path("k")}),
    (["m.tflite", "-s", "a", "--web", "0", "--host", "0.0.0.0", "--web-token-file", "t", "--read-timeout", "2.5",
      "--give-up-after", "0", "--labels", "l.txt", "--delegate", "edgetpu:usb:0", "--norm", "unit"],
     {"source": "a", "web": 0, "host": "0.0.0.0", "web_token_file": Path("t"), "read_timeout": 2.5,
      "give_up_after": 0.0, "labels": Path("l.txt"), "delegate": "edgetpu:usb:0", "norm": "unit"}),
    (["m.tflite", "-s", "a", "--top-k", "2", "--top-k", "4"], {"source": "a", "top_k": 4}),  # the last one counts
    (["m.tflite", "-s", "a", "--web", "65535", "--threshold", "1", "--threshold=0"],
     {"source": "a", "web": 65535, "threshold": 0.0}),
    (["m.tflite", "-s", "a", "--mqtt-password-file", "pw", "--web-token", "secret"],
     {"source": "a", "mqtt_password_file": Path("pw"), "web_token": "secret"}),
    (["m.tflite", "-sa", "-qs", "b", "--top-k", "+3", "--threshold", "1e-1"],
     {"source": "b", "quiet": True, "top_k": 3, "threshold": 0.1}),
    (["m.tflite", "-s", "-"], {"source": "-"}),
    (["m.tflite", "--source", "--odd", "--out", "-q"], {"source": "--odd", "out": Path("-q")}),  # a value, for
    (["m.tflite", "-s", "-1", "--give-up-after", "-0"], {"source": "-1", "give_up_after": 0.0}),  # its own checks
    (["-s", "x", "--", "-odd.tflite"], {"source": "x", "model": Path("-odd.tflite")}),
]
RUN_ERRORS = [
    ["m.tflite"], ["-s", "a"], ["m.tflite", "n.tflite", "-s", "a"], ["m.tflite", "-s", "a", "--top-k", "0"],
    ["m.tflite", "-s", "a", "--web", "65536"], ["m.tflite", "-s", "a", "--smooth", "two"],
    ["m.tflite", "-s", "a", "--quiet=1"], ["m.tflite", "-s"], ["m.tflite", "-s", "a", "--sourc", "b"],
    ["m.tflite", "-s", "a", "--frobnicate"], ["m.tflite", "-s", "a", "--out", ""],
    ["m.tflite", "-s", "a", "--read-timeout", "0.05"], ["m.tflite", "-s", "a", "--threads", "-1"],
    ["m.tflite", "-s", "a", "--top-k", "--quiet"], ["m.tflite", "-s", "a", "--no-stdout=1"],
]


def _run_values(line: list[str]) -> dict[str, Any]:
    from edgevision.cli.main import build_parser
    from edgevision.cli.run_exec import run

    values = vars(build_parser("run").parse_args(["run", *line]))
    values.pop(REACHED)
    assert values.pop(HANDLER) is run
    return values


def test_run_reads_each_line_to_these_values(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The parser generated from RUN_TABLE hands run_exec.run exactly these keywords; these lines are
    refused with one line and exit 2; $EDGEVISION_WEB_TOKEN fills --web-token unless it is given."""
    from edgevision.session.run_options import REQUIRED, RUN_TABLE

    monkeypatch.delenv("EDGEVISION_WEB_TOKEN", raising=False)
    defaults = {"model": Path("m.tflite"), **{o.name: None if o.default is REQUIRED else o.default for o in RUN_TABLE}}
    assert {k: defaults[k] for k in ("top_k", "smooth", "stdout", "host", "read_timeout", "mqtt_discovery", "loop",
                                     "realtime", "threshold", "quiet")} == {
        "top_k": 3, "smooth": 1, "stdout": True, "host": "127.0.0.1", "read_timeout": 5.0, "mqtt_discovery": True,
        "loop": False, "realtime": None, "threshold": None, "quiet": False}
    for line, given in RUN_LINES:
        got = _run_values(line)
        assert got == defaults | given, line
        assert all(type(got[k]) is type(v) for k, v in given.items()), line  # 0.0, not 0; Path, not str
    for line in RUN_ERRORS:
        with pytest.raises(SystemExit) as stop:
            _run_values(line)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), (line, err)
        assert err.rstrip().endswith("(see: edgevision run --help)"), err
    monkeypatch.setenv("EDGEVISION_WEB_TOKEN", "from-env")
    assert _run_values(["m.tflite", "-s", "a"])["web_token"] == "from-env"
    assert _run_values(["m.tflite", "-s", "a", "--web-token", "flag"])["web_token"] == "flag"
    monkeypatch.setenv("EDGEVISION_WEB_TOKEN", "")  # set but empty: unset, as before
    assert _run_values(["m.tflite", "-s", "a"])["web_token"] is None


def test_help_never_shows_an_environment_secret() -> None:
    """--web-token's default comes from $EDGEVISION_WEB_TOKEN: its help names the variable, never the value."""
    r = _edgevision("run", "--help", env={**_env(), "EDGEVISION_WEB_TOKEN": "s3cret-token-value"})
    assert r.returncode == 0 and "$EDGEVISION_WEB_TOKEN" in r.stdout
    assert "s3cret-token-value" not in r.stdout + r.stderr


def test_options_may_come_between_arguments() -> None:
    """Options anywhere among a command's arguments, also where it takes several or an optional one;
    ``bench MODEL…`` is ``bench run MODEL…``."""
    from edgevision.cli.bench_cmd import run as bench_run
    from edgevision.cli.evaluate_cmd import evaluate
    from edgevision.cli.main import build_parser

    def read(*args: str) -> dict[str, Any]:
        values = vars(build_parser().parse_args(list(args)))
        values.pop(REACHED)
        return values

    bench = read("bench", "a.tflite", "--threads", "1", "b.tflite", "--threads=4", "--json")
    assert bench[HANDLER] is bench_run and bench["models"] == [Path("a.tflite"), Path("b.tflite")]
    assert bench["threads"] == [1, 4] and bench["json_out"] is True and bench["delegate"] is None
    assert read("bench", "run", "./report")["models"] == [Path("./report")]
    report = read("bench", "report", "a.json", "--out", "r", "b.sqlite")
    assert report["results"] == [Path("a.json"), Path("b.sqlite")] and report["out"] == Path("r")
    assert read("bench", "report")["results"] == [] and read("bench", "report")["out"] == Path("bench-report")
    ev = read("evaluate", "m.tflite", "--json", "data")
    assert ev[HANDLER] is evaluate and (ev["model"], ev["data"], ev["json_out"]) == (Path("m.tflite"), Path("data"),
                                                                                       True)
    assert read("evaluate", "runs/x")["data"] is None
    unit = read("device", "service", "unit", "rel", "--scope", "user")
    assert (unit["release"], unit["scope"], unit["root"]) == ("rel", "user", None)
    convert = read("convert", "r", "--target", "edgetpu", "--no-repair", "--target", "imx500", "--format", "onnx")
    assert (convert["target"], convert["fmt"], convert["repair"]) == (["edgetpu", "imx500"], ["onnx"], False)
    assert read("convert", "r")["repair"] is None  # neither: as the policy says
    train = read("train", "d", "-o", "o", "--set", "a=1", "--lr", "0.1", "--set", "b=2")
    assert (train["settings"], train["learning_rate"], train["out"]) == (["a=1", "b=2"], 0.1, Path("o"))
    assert read("device", "activate", "r1", "--no-restart")["restart"] is False
    assert read("device", "activate", "r1", "--service")["with_service"] is True
