"""The systemd unit: valid for systemd itself (``systemd-analyze verify``) for every profile, and parsed
back by the supervisor into exactly the argv edgevision meant, however odd the paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgevision.errors import BadInput
from edgevision.profiles import list_profiles, load_profile
from edgevision.releases.manifest import Manifest
from edgevision.releases.runtime_config import RuntimeConfig, ServiceSettings, Sink
from edgevision.releases.supervisor import ServiceSpec
from edgevision.releases.unit import (
    TEMPLATE_NAME,
    UNIT_NAME,
    UnitContext,
    find_template,
    parse_unit,
    render_unit,
    serve_argv,
    split_command,
    systemd_join,
)
from tests.conftest import REPO, need


def _manifest(profile: str, **runtime: object) -> Manifest:
    p = load_profile(profile)
    rt = RuntimeConfig(**{"model": "m.tflite", "source": p.source, "delegate": p.delegate, "threads": p.threads,
                          **runtime})
    prof = {"name": p.name, "arch": p.arch, "service": ServiceSettings.from_profile_extra(p.extra, p.name).to_dict()}
    return Manifest(id="0" * 16, created="now", edgevision="0", profile=prof, model={}, runtime=rt, files={})


def _render(manifest: Manifest, root: Path, python: str, scope: str) -> str:
    template = (REPO / "device" / "kit" / TEMPLATE_NAME).read_text()
    release = root / "releases" / "m-0000000000000000"
    user = "root" if scope == "system" else None
    return render_unit(template, manifest, release, UnitContext(root, python, scope, user), root / "labels.jsonl")


@pytest.mark.parametrize("scope", ["system", "user"])
@pytest.mark.parametrize("profile", list_profiles())
def test_every_profile_unit_passes_systemd_analyze_verify(profile: str, scope: str, tmp_path: Path) -> None:
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze not installed (apt install systemd)")
    root = tmp_path / "device root"
    root.mkdir()
    text = _render(_manifest(profile), root, sys.executable, scope)
    unit = tmp_path / UNIT_NAME
    unit.write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120)
    ours = [ln for ln in (proc.stdout + proc.stderr).splitlines() if UNIT_NAME in ln]
    assert proc.returncode == 0 and not ours, proc.stdout + proc.stderr
    sections = parse_unit(text, "unit")
    service = dict(sections["Service"])
    assert service["Restart"] == "always" and service["StandardOutput"] == "null"
    assert ("User" in service) == (scope == "system")
    groups = load_profile(profile).extra["service"]["supplementary_groups"]
    assert (service.get("SupplementaryGroups") == " ".join(groups)) == (scope == "system")
    assert dict(sections["Install"])["WantedBy"] == ("multi-user.target" if scope == "system" else "default.target")
    assert split_command(service["ExecStart"], "unit")[3:] == ["device", "serve", "--root", str(root)]


def test_systemd_reads_quoted_paths_as_one_argument(tmp_path: Path) -> None:
    """systemd-analyze checks that ExecStart's argv[0] exists: a path with spaces, %, $ and quotes must survive."""
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze not installed (apt install systemd)")
    odd = tmp_path / "odd dir %h $HOME"
    odd.mkdir()
    python = odd / "python 3"
    python.symlink_to(sys.executable)
    unit = tmp_path / UNIT_NAME
    unit.write_text(_render(_manifest("x86-64", source="0"), odd, str(python), "system"))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    os.unlink(python)
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "python 3" in proc.stderr, "the check above would have caught a bad quote"


def test_supervisor_runs_exactly_the_intended_argv(tmp_path: Path) -> None:
    root = tmp_path / "a b" / "100% $USER's \"root\" \\ x"
    manifest = _manifest("rpi5", source="http://cam/stream?a=1&b=2", sinks=(Sink("mqtt", "mqtt://h/t"),),
                         threshold=0.5)
    python = "/opt/py thon/100%/$x/bin/python"
    text = _render(manifest, root, python, "user")
    unit = tmp_path / UNIT_NAME
    unit.write_text(text)
    spec = ServiceSpec.from_unit(unit)
    assert list(spec.exec_start) == serve_argv(python, root)
    assert spec.working_directory == root
    assert spec.environment["EDGEVISION_DEVICE_ROOT"] == str(root)
    assert spec.exec_start_pre[0][-4:] == ("--root", str(root), "--max-mb", "64")
    assert spec.restart == "always" and spec.restart_sec == 5


@pytest.mark.parametrize("arg", ["plain", "with space", "100%", "$HOME", 'q"uote', "back\\slash", "", "a;b", "'"])
def test_quoting_round_trip(arg: str) -> None:
    assert split_command(systemd_join(["/bin/x", arg]), "t") == ["/bin/x", arg]
    if not any(c in arg for c in "\\\"'"):
        assert split_command(systemd_join([f"/opt/{arg}/py", arg]), "t") == [f"/opt/{arg}/py", arg]
    else:
        with pytest.raises(BadInput, match="refuses quotes"):
            systemd_join([f"/opt/{arg}/py"])


def test_unit_parser_rejects_what_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="specifier or variable"):
        split_command("/bin/x %h", "t")
    with pytest.raises(BadInput, match="prefix"):
        split_command("-/bin/x", "t")
    unit = tmp_path / UNIT_NAME
    unit.write_text("[Service]\nExecStart=/bin/true\nRestart=on-abort\n")
    with pytest.raises(BadInput, match="Restart=on-abort"):
        ServiceSpec.from_unit(unit)
    with pytest.raises(BadInput, match="not a unit file line"):
        parse_unit("[Service]\nthis is not a key\n", "t")


def test_template_lookup_prefers_the_copy_on_the_device(tmp_path: Path) -> None:
    assert find_template(tmp_path) == REPO / "device" / "kit" / TEMPLATE_NAME
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / TEMPLATE_NAME).write_text("[Service]\nExecStart=${exec_start}\n${bogus}\n")
    assert find_template(tmp_path) == tmp_path / "kit" / TEMPLATE_NAME
    with pytest.raises(BadInput, match="placeholder"):
        render_unit(find_template(tmp_path).read_text(), _manifest("x86-64"), tmp_path / "r",
                    UnitContext(tmp_path, "/usr/bin/python3"), tmp_path / "l")


def test_the_unit_is_the_same_for_every_release(tmp_path: Path) -> None:
    """Model, source and sinks are the release's data: none of them reaches the unit file."""
    root = tmp_path / "root"
    a = _render(_manifest("x86-64", source="0"), root, sys.executable, "user")
    b = _render(_manifest("x86-64", source="http://cam.local/s.mjpg", model="other.tflite", top_k=5,
                          sinks=(Sink("mqtt", "mqtt://broker/t"),)), root, sys.executable, "user")
    assert a == b
    assert "cam.local" not in b and "other" not in b and "broker" not in b


@pytest.mark.parametrize("bad", ["img.bmp\nExecStart=\nExecStart=/usr/bin/touch PWNED\n#", "a\rb", "x\x00y",
                                 "a\u2028b", "x" * 2000])
def test_control_characters_and_long_strings_are_refused_in_the_config(bad: str) -> None:
    with pytest.raises(BadInput):
        RuntimeConfig(model="m.tflite", source=bad)
    with pytest.raises(BadInput):
        Sink.parse(f"mqtt=mqtt://h/{bad}")
    with pytest.raises(BadInput):
        RuntimeConfig(model=f"m{bad}.tflite", source="0")


@pytest.mark.parametrize("spec", ["mqtt=http://h/t", "mqtt=mqtt://u:hunter2@h/t", "web=99999", "web=-1",
                                  "mqtt-password=x", "web-token=abc", "rm=-rf", "mqtt-ca=relative.pem",
                                  "no-stdout=1", "give-up-after=soon"])
def test_sinks_are_parsed_not_pasted(spec: str) -> None:
    with pytest.raises(BadInput) as exc:
        Sink.parse(spec)
    assert "hunter2" not in str(exc.value)


def test_supervisor_refuses_what_systemd_would(tmp_path: Path) -> None:
    """The issue's injected unit: systemd refuses it; so must the supervisor (it used to run the `touch`)."""
    unit = tmp_path / UNIT_NAME
    bad = ('[Service]\nExecStart=/usr/bin/python3 -m edgevision run m.tflite --source "img.bmp\n'
           f'ExecStart=\nExecStart=/usr/bin/touch {tmp_path}/PWNED\n#" --top-k 3\n')
    unit.write_text(bad)
    with pytest.raises(BadInput):
        ServiceSpec.from_unit(unit)
    for text in ("[Service]\nExecStart=/bin/true\nExecStart=/bin/false\n",
                 "[Service]\nType=forking\nExecStart=/bin/true\n",
                 "[Service]\nExecStart=/bin/true \\\n", "[Bogus]\nX=1\n[Service]\nExecStart=/bin/true\n"):
        unit.write_text(text)
        with pytest.raises(BadInput):
            ServiceSpec.from_unit(unit)
    assert not (tmp_path / "PWNED").exists()
