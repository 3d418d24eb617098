"""The CLI as a user meets it: outputs, exit codes, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def _one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


COMMANDS = ("demo", "data", "train", "evaluate", "convert", "info", "run", "doctor", "bench", "bundle", "deploy",
            "device", "toolchain")


def _commands():  # type: ignore[no-untyped-def]
    from edgevision.cli.main import build_parser

    return build_parser().commands


def _help(parser) -> str:  # type: ignore[no-untyped-def]
    """A parser's --help as a user sees it (rich-argparse, 200 columns)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        parser.parse_args(["--help"])
    assert stop.value.code == 0
    return out.getvalue()


def _every_parser(commands, path=()):  # type: ignore[no-untyped-def]
    """(words, parser, hidden) for every command and sub-command, depth first."""
    for name, parser in commands.parsers.items():
        yield (*path, name), parser, name in commands.hidden
        if parser.commands is not None:
            yield from _every_parser(parser.commands, (*path, name))


def test_help_lists_every_command(cli) -> None:
    assert list(_commands().parsers) == list(COMMANDS)  # a new command is added here, so it gets its --help test
    out = cli("--help")
    assert out.returncode == 0
    section = out.stdout.split("Commands:", 1)[1]
    listed = {ln.split()[0] for ln in section.splitlines() if ln.startswith("    ") and ln[4] != " "}
    assert listed == set(COMMANDS), out.stdout


def test_every_command_has_help_with_examples_or_subcommands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command and sub-command: --help exits 0 and shows its usage, options and examples (hidden ones,
    which the service runs, need no examples); a group lists its sub-commands."""
    monkeypatch.setenv("COLUMNS", "200")
    seen = []
    for words, parser, hidden in _every_parser(_commands()):  # in-process: dozens of interpreters cost a minute
        text = _help(parser)
        seen.append(" ".join(words))
        _help_is_complete(" ".join(words), text)
        assert "Examples:" in text or "Example:" in text or hidden, (words, text)
        if parser.commands is not None:
            assert "Commands:" in text and all(f"    {n} " in text for n in parser.commands.parsers
                                               if n not in parser.commands.hidden), text
    assert len(seen) >= 30 and "device service logs" in seen and "bench import" in seen, seen


def _help_is_complete(command: str, text: str) -> None:
    assert f"Usage: edgevision {command} [-h]" in " ".join(text.split()), text
    assert "-h, --help" in text and "Traceback" not in text, text


def test_the_run_options_table_is_the_run_command(cli) -> None:
    """deploy checks a bundle's runtime config against RUN_OPTIONS (deploy must not import the CLI): same set."""
    from edgevision.session.run_options import RUN_OPTIONS

    run = _commands().parsers["run"]
    assert run.flags - {"-h", "--help"} == RUN_OPTIONS
    text = _help(run)
    assert all(flag in text for flag in RUN_OPTIONS), text  # --no-x switches too


def test_info_json_and_text(cli, trained) -> None:
    out = cli("info", trained.int8, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["quantization"] == "int8"
    assert d["inputs"][0]["dtype"] == "uint8" and d["inputs"][0]["shape"] == [1, 32, 32, 3]
    assert d["labels"] == ["circle", "cross", "square", "star", "triangle"]
    assert d["metadata"]["labels_file"] == "labels.txt"
    assert d["card"]["validation"]["split"] == "test"
    assert "CONV_2D" in d["ops"]
    text = cli("info", trained.float32)
    assert text.returncode == 0 and "float32" in text.stdout and "labels" in text.stdout


def test_run_prints_one_json_event_per_image(cli, trained) -> None:
    folder = trained.data / "test" / "star"
    out = cli("run", trained.int8, "--source", folder, "--top-k", "2")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(events) == len(list(folder.glob("*.png")))
    assert all(len(e["top_k"]) == 2 for e in events)
    assert "FPS" in out.stderr


def test_run_max_frames_and_out_file(cli, trained, tmp_path: Path) -> None:
    log = tmp_path / "labels.jsonl"
    out = cli("run", trained.int8, "--source", trained.data / "test", "--max-frames", "7", "--out", log, "-q")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 7
    assert log.read_text().splitlines() == out.stdout.splitlines()


def test_bench_json(cli, trained) -> None:
    out = cli("bench", trained.int8, "--runs", "20", "--warmup", "2", "--threads", "1", "--json")
    assert out.returncode == 0, out.stderr
    (r,) = json.loads(out.stdout)  # one result document (edgevision/bench/record.py)
    assert r["config"]["threads"] == 1 and r["metrics"]["invoke"]["runs"] == 20
    inv = r["metrics"]["invoke"]
    assert 0 < inv["p50"] <= inv["p90"] <= inv["p99"] and inv["fps"] > 0 and r["metrics"]["peak_rss_mb"] > 0


def test_bad_inputs_are_one_line_errors(cli, trained, tmp_path: Path) -> None:
    not_model = tmp_path / "model.tflite"
    not_model.write_text("hello")
    _one_line_error(cli("run", not_model, "--source", trained.data), "not a TFLite model")
    _one_line_error(cli("info", tmp_path / "nope.tflite"), "not found")
    _one_line_error(cli("run", trained.int8, "--source", tmp_path / "nothing"), "source not found")
    labels = tmp_path / "labels.txt"
    labels.write_text("one\ntwo\n")
    _one_line_error(cli("run", trained.int8, "--source", trained.data / "test", "--labels", labels),
                    "2 labels but the model")
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(cli("train", empty, "--out", tmp_path / "run"), "no images")
    _one_line_error(cli("train", tmp_path / "missing", "--out", tmp_path / "run"), "not found")
    one = tmp_path / "one" / "cats"
    one.mkdir(parents=True)
    shutil.copy(next((trained.data / "test" / "star").glob("*.png")), one / "a.png")
    _one_line_error(cli("train", one.parent, "--out", tmp_path / "run"), "only one class")
    _one_line_error(cli("convert", tmp_path / "norun"), "run directory not found")


def test_metadata_mismatch_is_refused(cli, trained, tmp_path: Path) -> None:
    """Editing the embedded labels after export breaks the label hash in the model card."""
    from edgevision.model.tflite_file import associated_files, embed, metadata_buffers

    data = trained.int8.read_bytes()
    files = associated_files(data)
    files["labels.txt"] = b"a\nb\nc\nd\ne\n"
    tampered = tmp_path / "tampered.tflite"
    tampered.write_bytes(embed(data, metadata_buffers(data), files))
    _one_line_error(cli("info", tampered), "label hash")


def test_corrupt_single_image_source(cli, trained, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = cli("run", trained.int8, "--source", corrupt)  # the one image asked for: an error, not an empty run
    assert out.returncode == 2 and out.stdout == ""
    assert "corrupt.jpg" in out.stderr and "Traceback" not in out.stderr
    assert len([ln for ln in out.stderr.splitlines() if ln.startswith("error:")]) == 1


@pytest.mark.parametrize("quant", ["bogus"])
def test_convert_rejects_unknown_quantization(cli, trained, quant: str) -> None:
    _one_line_error(cli("convert", trained.run, "--quant", quant), "--quant")
