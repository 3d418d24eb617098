"""The new commands as a user meets them: help with examples, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.test_bundle import _one_line_error


@pytest.mark.parametrize("command", [["bundle"], ["deploy"], ["device", "status"], ["device", "rollback"],
                                     ["device", "verify"], ["device", "activate"]])
def test_help_has_examples(cli, command: list[str]) -> None:
    out = cli(*command, "--help")
    assert out.returncode == 0 and "Example" in out.stdout, out.stdout


def test_root_help_lists_the_new_commands(cli) -> None:
    out = cli("--help")
    assert all(c in out.stdout for c in ("bundle", "deploy", "device"))


def test_deploy_refuses_bad_input_before_connecting(cli, models, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    assert cli("bundle", models.int8, "--profile", "x86-64", "--out", bundle).returncode == 0
    # 192.0.2.1 is TEST-NET-1: nothing must try to reach it, every error comes first
    _one_line_error(cli("deploy", bundle, "pi@192.0.2.1", "--source", "0"), 2, "--source", "bundle")
    _one_line_error(cli("deploy", bundle, "pi@192.0.2.1", "--profile", "rpi5"), 2, "made for x86-64")
    _one_line_error(cli("deploy", tmp_path / "nope.tar.gz", "pi@192.0.2.1"), 2, "not found")
    _one_line_error(cli("deploy", bundle, "--", "-oProxyCommand=x"), 2, "expected [user@]host")
    _one_line_error(cli("deploy", bundle, "pi@192.0.2.1", "-o", "UserKnownHostsFile=/dev/null"), 2, "host-key")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"junk")
    _one_line_error(cli("deploy", junk, "pi@192.0.2.1"), 2, "junk.tar.gz")


def test_device_commands_on_an_empty_root(device_python: str, tmp_path: Path) -> None:
    from tests.deploy.conftest import device_cli

    dev = device_cli(device_python)
    root = tmp_path / "root"
    st = dev("device", "status", "--root", root)
    assert st.returncode == 0 and "current: none" in st.stdout, st.stderr
    _one_line_error(dev("device", "rollback", "--root", root), 1, "no previous release")
    _one_line_error(dev("device", "activate", "abc", "--root", root), 2, "not found")
    _one_line_error(dev("device", "install", tmp_path / "nope.tar.gz", "--root", root), 2, "not found")


def test_ssh_targets_with_a_bad_port_are_refused() -> None:
    from edgevision.deploy.ssh import SshTarget
    from edgevision.errors import BadInput

    assert SshTarget.parse("ssh://pi@[::1]:2222").port == 2222 and SshTarget.parse("ssh://pi@[::1]").port is None
    for bad in ("ssh://pi@host:99999", "ssh://pi@host:0", "ssh://pi@host:"):
        with pytest.raises(BadInput, match="port must be a number"):
            SshTarget.parse(bad)
