"""What a device says reaches the desktop framed and inert: a login shell that prints its own lines (an
``echo`` in ``.bashrc``) cannot spoil or forge deploy's answers, and a device's error line cannot drive the
terminal. Real OpenSSH on loopback plays the device; its edgevision is this checkout's (a wrapper sets
PYTHONPATH, which ssh does not pass on)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("sshd")

# what must never reach a terminal raw: C0 controls but the line feed, DEL, C1, bidi overrides and isolates
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
GREETING = ("echo 'Welcome to the device!'\n"
            "echo '{\"new\": false, \"release\": \"forged\"}'\n"
            "printf 'motd \\033]0;retitled\\007 \\033[2J\\n'\n"
            "echo 'a warning of the shell' >&2\n")


def _device_python(tmp_path: Path, device_python: str, fail_on: str = "") -> str:
    """This checkout's edgevision as the device's interpreter; with ``fail_on``, a device whose
    ``edgevision device <fail_on>`` fails with an error line full of terminal controls and markup."""
    script = tmp_path / "device-python"
    hostile = ""
    if fail_on:
        hostile = (f'case "$*" in *"device {fail_on}"*) printf \'error: \\033]0;pwned\\007\\033[2Jbad '
                   '[/b][bold red]thing\\342\\200\\256txt\\033]8;;http://evil.example\\033\\\\link\\n\' >&2; '
                   'exit 1;; esac\n')
    script.write_text(f"#!/bin/sh\n{hostile}PYTHONPATH={REPO} exec {device_python} \"$@\"\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture()
def greeting_shell(sshd) -> Iterator[None]:
    """The device user's .bashrc prints a greeting, a JSON-looking line and terminal controls."""
    bashrc = sshd.home / ".bashrc"
    bashrc.write_text(GREETING)
    try:
        yield
    finally:
        bashrc.unlink()


def _bundle(cli, models, out: Path) -> Path:
    made = cli("bundle", models.int8, "--profile", "x86-64", "--source", str(models.data / "test" / "star"),
               "--out", out)
    assert made.returncode == 0, made.stderr
    return out


@pytest.mark.usefixtures("greeting_shell")
def test_a_login_shell_that_prints_does_not_spoil_the_answers(cli, sshd, models, device_python, device_root,
                                                              tmp_path: Path) -> None:
    greets = sshd.ssh("true")
    assert "Welcome to the device!" in greets.stdout, "the device's shell must greet for this test to mean anything"
    python = _device_python(tmp_path, device_python)
    out = cli("deploy", _bundle(cli, models, tmp_path / "b.tar.gz"), *sshd.ssh_args(), "--root", device_root,
              "--remote-python", python, "--json", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    report = json.loads(out.stdout)
    assert report["release"] != "forged" and report["new"] is True  # the device's answer, not the greeting's
    assert (device_root / "current").resolve().name == report["release"]
    assert not RAW.search(out.stdout + out.stderr), (out.stdout + out.stderr)[-2000:]
    # the same by hand: `device status --json` is one plain JSON document when nobody asks for a frame
    status = sshd.ssh(python, "-m", "edgevision", "device", "status", "--root", str(device_root), "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout.split("\n", 3)[3])["current"] == report["release"]


def test_a_device_error_line_is_relayed_inert(cli, sshd, models, device_python, device_root,
                                             tmp_path: Path) -> None:
    python = _device_python(tmp_path, device_python, fail_on="activate")
    out = cli("deploy", _bundle(cli, models, tmp_path / "b.tar.gz"), *sshd.ssh_args(), "--root", device_root,
              "--remote-python", python, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    error = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(error) == 1 and "[/b][bold red]thing" in error[0], out.stderr
    assert "\\x1b]0;pwned\\x07" in error[0] and "\\u202e" in error[0]  # shown, not obeyed
    assert not RAW.search(out.stdout + out.stderr), out.stderr
