"""`edgevision toolchain install imx500`: where the managed venv goes, what it runs, that a second run does nothing,
that a failed step leaves nothing behind, and that `convert --target imx500` then finds it. The default run checks
the logic with a recording runner (no gigabyte download); the slow test installs the real toolchain."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from edgevision.convert.imx500 import setup
from edgevision.errors import BadInput, CheckFailed
from tests.conftest import Cli


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(setup.HOME_ENV, raising=False)
    monkeypatch.delenv("EDGEVISION_IMX500_PYTHON", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "edgevision" / "toolchains" / "imx500"


def _fake_python(tmp_path: Path, version: str) -> str:
    exe = tmp_path / f"python{version}"
    exe.write_text(f"#!/bin/sh\necho {version.replace('.', ' ')}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


class Recorder:
    """Stands in for the subprocesses: records each command and makes what it would have made."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.fail_at = fail_at

    def __call__(self, cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        cmd = list(cmd)
        self.commands.append(cmd)
        if "sys.version_info" in " ".join(cmd):
            return subprocess.CompletedProcess(cmd, 0, "3 11\n", "")
        if self.fail_at and self.fail_at in " ".join(cmd):
            return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for edge-mdt\n")
        if cmd[1:3] == ["-m", "venv"]:
            venv = Path(cmd[3])
            (venv / "bin").mkdir(parents=True)
            (venv / "bin" / "python").symlink_to(sys.executable)
            (venv / "bin" / "pip").write_text(f"#!{venv}/bin/python\n")
            (venv / "pyvenv.cfg").write_text(f"command = {cmd[0]} -m venv {venv}\n")
        elif "edge-mdt[tf]" in cmd:
            bin_dir = Path(cmd[0]).parent
            (bin_dir / "imxconv-tf").write_text(f"#!{bin_dir}/python\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")


def test_the_managed_venv_lives_in_the_users_data_directory(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert setup.managed_venv() == home
    monkeypatch.setenv(setup.HOME_ENV, "/opt/ev")
    assert setup.managed_python() == Path("/opt/ev/imx500/bin/python")


def test_install_builds_beside_moves_in_and_a_second_run_does_nothing(home: Path) -> None:
    rec = Recorder()
    p = setup.plan(run=rec)
    assert not p.installed and p.venv == home and p.requirements == setup.REQUIREMENTS
    result = setup.install(p, run=rec)
    assert result["changed"] and (home / "bin" / "imxconv-tf").is_file()
    assert not home.with_name("imx500.partial").exists()
    venv_cmd = next(c for c in rec.commands if c[1:3] == ["-m", "venv"])
    assert venv_cmd[3].endswith("imx500.partial")              # built beside its place ...
    assert (home / "bin" / "pip").read_text() == f"#!{home}/bin/python\n"  # ... and its scripts point at it
    assert json.loads((home / setup.MARKER).read_text())["requirements"] == list(setup.REQUIREMENTS)
    installs = [c for c in rec.commands if "install" in c and "edge-mdt[tf]" in c]
    assert len(installs) == 1 and "tensorflow-cpu==2.15.*" in installs[0] and "numpy<2" in installs[0]
    again = Recorder()
    p2 = setup.plan(run=again)
    assert p2.installed and setup.install(p2, run=again)["changed"] is False
    assert not [c for c in again.commands if "install" in c]  # nothing downloaded the second time
    forced = Recorder()
    assert setup.install(p2, force=True, run=forced)["changed"] is True
    assert any("edge-mdt[tf]" in c for c in forced.commands)


def test_a_failed_step_leaves_nothing_half_installed(home: Path) -> None:
    rec = Recorder(fail_at="edge-mdt[tf]")
    with pytest.raises(CheckFailed, match=r"installing edge-mdt\[tf\].*No matching distribution"):
        setup.install(setup.plan(run=rec), run=rec)
    assert not home.exists() and not home.with_name("imx500.partial").exists()


def test_python_311_is_required_and_named(tmp_path: Path, home: Path) -> None:
    with pytest.raises(BadInput, match=r"--python .*: Python 3\.12; .* needs Python 3\.11"):
        setup.find_python(_fake_python(tmp_path, "3.12"))
    assert setup.find_python(_fake_python(tmp_path, "3.11")).endswith("python3.11")
    with pytest.raises(BadInput, match="not a Python interpreter"):
        setup.find_python(str(tmp_path / "missing"))


def test_cli_dry_run_names_the_place_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    env = {**cli.env, "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop(setup.HOME_ENV, None)
    fake = _fake_python(tmp_path, "3.11")
    r = Cli(cli.python, env)("toolchain", "install", "imx500", "--python", fake, "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    venv = tmp_path / "data" / "edgevision" / "toolchains" / "imx500"
    assert out["venv"] == str(venv) and out["dry_run"] and not out["installed"]
    assert out["steps"][0] == f"{fake} -m venv {venv}" and not venv.exists()
    bad = Cli(cli.python, env)("toolchain", "install", "imx501")
    assert bad.returncode == 2 and bad.stderr.startswith("error: toolchain 'imx501'")


def test_convert_finds_the_managed_toolchain(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgevision.convert.imx500.toolchain import ToolchainMissing, find_toolchain

    monkeypatch.chdir(home.parents[3])  # no checkout's .venv-imx500 around
    here = Path(__file__).resolve()
    if any((r / ".venv-imx500" / "bin" / "imxconv-tf").is_file() for r in here.parents):
        pytest.skip("a checkout venv with the real toolchain sits above this test; it would be found first")
    with pytest.raises(ToolchainMissing, match="edgevision toolchain install imx500"):
        find_toolchain()
    rec = Recorder()
    setup.install(setup.plan(run=rec), run=rec)
    if shutil.which("java") is None:
        with pytest.raises(ToolchainMissing, match="Java"):
            find_toolchain()
        return
    assert find_toolchain().python == home / "bin" / "python"


@pytest.mark.slow
def test_real_install_into_a_fresh_folder(tmp_path: Path) -> None:
    """Downloads about 1 GB from PyPI: Python 3.11 venv with edge-mdt[tf], TensorFlow 2.15, imxconv-tf."""
    env = {**os.environ, setup.HOME_ENV: str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "edgevision", "toolchain", "install", "imx500", "--json"],
                       capture_output=True, text=True, env=env, timeout=3600)
    assert r.returncode == 0, r.stderr[-2000:]
    venv = tmp_path / "imx500"
    assert (venv / "bin" / "imxconv-tf").is_file() and (venv / setup.MARKER).is_file()
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import model_compression_toolkit, tensorflow as tf;"
                            "print(tf.__version__)"], capture_output=True, text=True, timeout=600)
    assert check.returncode == 0 and check.stdout.startswith("2.15"), check.stderr[-2000:]
    again = subprocess.run([sys.executable, "-m", "edgevision", "toolchain", "install", "imx500", "--json"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False
