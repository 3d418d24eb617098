"""A start builds only the command it runs: what a user sees must be what the full app shows.

``edgevision X ...`` imports and builds only command X, and plain option values are coerced without
pydantic (``edgevision.cli.coercion``); these tests fail if either changes what a user gets: a
command's ``--help``, the list of commands, usage errors, or a coerced value or its error message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_MODELS, REPO

COMMANDS = ("demo", "data", "train", "evaluate", "convert", "info", "run", "doctor", "bench", "bundle", "deploy",
            "device", "toolchain")
SUBCOMMANDS = (("data", "check"), ("bench", "run"), ("device", "status"), ("device", "service"),
               ("toolchain", "install"))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _edgevision(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgevision", *args], capture_output=True, text=True,
                          env=_env(), timeout=120)


def _full_app_help(*args: str) -> str:
    """What the app with every command registered prints for ``args`` (in-process, as before the fast path)."""
    from typer.testing import CliRunner

    from edgevision.cli.main import build_app

    out = CliRunner().invoke(build_app(), list(args), env={"COLUMNS": "200"}, prog_name="edgevision")
    assert out.exit_code == 0, out.output
    return out.output


def test_the_command_table_is_the_full_app() -> None:
    import typer.main

    from edgevision.cli.main import COMMANDS as TABLE
    from edgevision.cli.main import build_app, invoked

    assert tuple(TABLE) == COMMANDS
    assert sorted(typer.main.get_command(build_app()).commands) == sorted(COMMANDS)
    for name in COMMANDS:
        assert list(typer.main.get_command(build_app(name)).commands) == [name]
        assert invoked([name, "--help"]) == name
    for args in ([], ["--help"], ["--version"], ["frobnicate"], ["--help", "run"], ["-x", "run"]):
        assert invoked(args) is None, args  # the full app answers these


def test_every_command_help_is_the_full_apps() -> None:
    """Each ``edgevision X --help`` in its own interpreter (the fast path) prints exactly the full app's help."""
    cases = [(c,) for c in COMMANDS] + list(SUBCOMMANDS)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: _edgevision(*case, "--help"), cases))
    for case, r in zip(cases, results, strict=True):
        assert r.returncode == 0 and "Traceback" not in r.stderr, (case, r.stderr)
        assert r.stdout == _full_app_help(*case, "--help"), case


def test_top_level_help_and_no_arguments_list_every_command() -> None:
    for args in (("--help",), ()):
        r = _edgevision(*args)
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
        listed = {ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("│ ") and len(ln.split()) > 2}
        assert set(COMMANDS) <= listed, (args, r.stdout)
    assert _edgevision("--version").stdout.startswith("edgevision ")


@pytest.mark.parametrize(("args", "needles"), [
    (("frobnicate",), ("frobnicate",)),
    (("run",), ("Missing argument", "edgevision run --help")),
    (("run", "m.tflite"), ("--source", "edgevision run --help")),
    (("run", "m.tflite", "--source", "x.jpg", "--top-k", "0"), ("--top-k", "edgevision run --help")),
    (("run", "m.tflite", "--source", "x.jpg", "--threshold", "1.5"), ("--threshold",)),
    (("run", "m.tflite", "--source", "x.jpg", "--smooth", "two"), ("--smooth",)),
    (("device", "frobnicate"), ("frobnicate", "edgevision device --help")),
])
def test_usage_errors_are_one_line(args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    r = _edgevision(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _params(command):  # type: ignore[no-untyped-def]
    from typer._click import Context

    ctx = Context(command, info_name=command.name)
    yield from ((p, ctx) for p in command.get_params(ctx))
    for sub in getattr(command, "commands", {}).values():
        yield from _params(sub)


def _outcome(coercion, value, param, ctx):  # type: ignore[no-untyped-def]
    from typer._click.exceptions import BadParameter

    try:
        result = coercion.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()
    return "ok", type(result), result


def test_plain_coercion_gives_typers_values_and_errors(tmp_path: Path) -> None:
    """Every parameter of every command, fed values a user could type: the pydantic-free coercion gives
    what typer's own gives (value and type, or the same error message)."""
    typer_coercion = pytest.importorskip("typer._coercion")
    import typer.main

    from edgevision.cli.coercion import PlainValue, install
    from edgevision.cli.main import build_app

    command = typer.main.get_command(build_app())
    assert install(command) > 80  # nearly every option of the CLI is plain
    (tmp_path / "file.txt").write_text("x")
    values = [None, "", "0", "1", "-1", "3", "007", "+3", " 4", "1_000", "65535", "65536", "0.5", "1.5", "-0.5",
              ".5", "1e3", "nan", "inf", "abc", "true", "no", 0, 3, 2.5, -1.0, True, False,
              str(tmp_path), str(tmp_path / "file.txt"), str(tmp_path / "missing"), tmp_path, "-"]
    checked = 0
    for param, ctx in _params(command):
        plain = getattr(param, "_runtime_param", None)
        if not isinstance(plain, PlainValue):
            continue
        reference = typer_coercion.build_runtime_param(param.type_descriptor)
        for value in values:
            expected, got = _outcome(reference, value, param, ctx), _outcome(plain, value, param, ctx)
            if expected[0] == "ok" and isinstance(expected[2], float) and expected[2] != expected[2]:
                assert got[0] == "ok" and got[2] != got[2], (param.name, value)  # nan
            else:
                assert got == expected, (ctx.command_path, param.name, value)
            checked += 1
    assert checked > 80 * len(values) // 2


def test_run_starts_without_typer_pydantic_or_rich(tmp_path: Path) -> None:
    """The start of a plain ``edgevision run --quiet`` imports neither typer (nor the click it vendors),
    pydantic nor rich, nor any command module, and still labels the image."""
    import cv2
    import numpy as np

    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.full((48, 64, 3), 127, np.uint8))
    code = ("import runpy, sys, json\n"
            f"sys.argv = ['edgevision', 'run', {str(FIXTURE_MODELS / 'tiny_int8.tflite')!r}, '--source', "
            f"{str(image)!r}, '--quiet', '--top-k=2', '--no-realtime', '-s', {str(image)!r}]\n"
            "try:\n    runpy.run_module('edgevision', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'pydantic', "
            "'rich') or (m.startswith('edgevision.cli.') and m.endswith('_cmd')))), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(events) == 1 and len(events[0]["top_k"]) == 2, r.stdout
    assert json.loads(r.stderr.strip().splitlines()[-1]) == [], r.stderr


RUN_LINES = [
    ["m.tflite", "--source", "x.jpg"],
    ["--source", "x.jpg", "m.tflite", "--quiet"],
    ["m.tflite", "-s", "0", "-q", "--top-k", "5", "--threshold", "0.25", "--smooth=3", "--threads", "2"],
    ["m.tflite", "-s", "http://cam/stream.mjpg", "--no-realtime", "--realtime", "--max-frames", "10", "--loop"],
    ["m.tflite", "-s", "a", "--no-stdout", "--out", "labels.jsonl", "--mqtt", "mqtt://u@h:1883/t",
     "--mqtt-node", "pi", "--no-mqtt-discovery", "--mqtt-ca", "ca.pem", "--mqtt-cert", "c.pem", "--mqtt-key", "k"],
    ["m.tflite", "-s", "a", "--web", "0", "--host", "0.0.0.0", "--web-token-file", "t", "--read-timeout", "2.5",
     "--give-up-after", "0", "--labels", "l.txt", "--delegate", "edgetpu:usb:0", "--norm", "unit"],
    ["m.tflite", "-s", "a", "--top-k", "2", "--top-k", "4"],                  # the last one counts
    ["m.tflite", "-s", "a", "--web", "65535", "--threshold", "1", "--threshold=0"],
    ["m.tflite", "-s", "a", "--mqtt-password-file", "pw", "--web-token", "secret"],
    # typer's business (the fast start declines): help, errors, odd spellings, environment
    ["m.tflite", "-s", "a", "--help"], ["m.tflite"], ["-s", "a"], ["m.tflite", "n.tflite", "-s", "a"],
    ["m.tflite", "-s", "a", "--top-k", "0"], ["m.tflite", "-s", "a", "--top-k", "+3"],
    ["m.tflite", "-s", "a", "--threshold", "1e-1"], ["m.tflite", "-s", "a", "--web", "65536"],
    ["m.tflite", "-s", "a", "--smooth", "two"], ["m.tflite", "-s", "a", "--quiet=1"], ["m.tflite", "-s"],
    ["m.tflite", "-s", "a", "--sourc", "b"], ["m.tflite", "-s", "a", "--frobnicate"], ["m.tflite", "-sa"],
    ["m.tflite", "-s", "a", "--", "x"], ["m.tflite", "-s", "-"], ["m.tflite", "-s", "a", "--out", ""],
    ["m.tflite", "-s", "a", "-qs", "b"], ["m.tflite", "-s", "a", "--read-timeout", "0.05"],
]


def test_the_fast_run_start_reads_each_line_as_typer_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run_fast.parse`` either declines a command line (typer answers it) or gives exactly the
    parameters typer calls the command with; every plain line above is taken by the fast start."""
    import typer.main

    from edgevision.cli.coercion import install
    from edgevision.cli.main import build_app
    from edgevision.cli.run_fast import parse

    monkeypatch.delenv("EDGEVISION_WEB_TOKEN", raising=False)
    command = typer.main.get_command(build_app("run"))
    install(command)
    run = command.commands["run"]  # type: ignore[attr-defined]
    taken = 0
    for line in RUN_LINES:
        fast = parse(line)
        try:
            with run.make_context("run", list(line)) as ctx:
                expected = dict(ctx.params)
        except Exception:  # noqa: BLE001 - a usage error (or --help): typer must get the line
            assert fast is None, line
            continue
        if fast is not None:
            assert fast == expected, line
            taken += 1
    assert taken == 9
    monkeypatch.setenv("EDGEVISION_WEB_TOKEN", "from-env")  # a value from the environment: typer reads it
    assert parse(RUN_LINES[0]) is None
