"""The Debian package step of `make demo` / `make test` (scripts/system-packages.sh).

dpkg-query, apt-get, id and sudo are replaced by logging stand-ins on PATH: the tests must not
install or remove real packages. The last tests run the real script and Makefile against this
machine's own dpkg database in dry-run mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "system-packages.sh"

STUBS = {
    # installed packages are listed in $INSTALLED; anything else is unknown or config-files only
    "dpkg-query": """#!/bin/sh
for p in "$@"; do last="$p"; done
case " $INSTALLED " in *" $last "*) printf 'install ok installed'; exit 0 ;; esac
case " $CONFIG_ONLY " in *" $last "*) printf 'deinstall ok config-files'; exit 0 ;; esac
echo "dpkg-query: no packages found matching $last" >&2; exit 1
""",
    "apt-get": '#!/bin/sh\necho "apt-get $*" >> "$CALLS"\n',
    "id": '#!/bin/sh\necho "$FAKE_UID"\n',
    "sudo": '#!/bin/sh\necho "sudo $*" >> "$CALLS"\nexec "$@"\n',
}
TOOLS = ("sh", "sed", "tr", "env", "cat")


def _run(tmp_path: Path, *args: str, installed: str = "", uid: int = 0, stubs=tuple(STUBS), config_only: str = ""):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in stubs:
        (bin_dir / name).write_text(STUBS[name])
        (bin_dir / name).chmod(0o755)
    for tool in TOOLS:
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(shutil.which(tool))
    calls = tmp_path / "calls.log"
    calls.write_text("")
    env = {"PATH": str(bin_dir), "INSTALLED": installed, "CONFIG_ONLY": config_only, "FAKE_UID": str(uid),
           "CALLS": str(calls)}
    proc = subprocess.run([shutil.which("sh"), str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)
    return proc, calls.read_text().splitlines()


def test_nothing_missing_runs_no_apt(tmp_path):
    proc, calls = _run(tmp_path, "mosquitto", "chromium", installed="mosquitto chromium", uid=1000)
    assert proc.returncode == 0, proc.stderr
    assert "all present" in proc.stdout
    assert calls == []


def test_root_updates_then_installs_only_the_missing(tmp_path):
    proc, calls = _run(tmp_path, "mosquitto", "chromium", "systemd", installed="chromium")
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == 2 and "update" in calls[0].split()
    assert calls[1].split()[-2:] == ["mosquitto", "systemd"] and "install" in calls[1].split()
    assert "--no-install-recommends" in calls[1] and "sudo" not in " ".join(calls)


def test_removed_package_with_config_files_counts_as_missing(tmp_path):
    proc, calls = _run(tmp_path, "mosquitto", config_only="mosquitto")
    assert proc.returncode == 0, proc.stderr
    assert calls[-1].split()[-1] == "mosquitto"


def test_non_root_uses_sudo(tmp_path):
    proc, calls = _run(tmp_path, "mosquitto", uid=1000)
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[0] for c in calls] == ["sudo", "apt-get", "sudo", "apt-get"]


def test_non_root_without_sudo_is_one_error_line(tmp_path):
    proc, calls = _run(tmp_path, "mosquitto", uid=1000, stubs=("dpkg-query", "apt-get", "id"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: missing Debian packages: mosquitto") and proc.stderr.count("\n") == 1
    assert calls == []


def test_dry_run_prints_the_missing_and_installs_nothing(tmp_path):
    proc, calls = _run(tmp_path, "--dry-run", "mosquitto", "chromium", installed="chromium", uid=1000)
    assert proc.returncode == 0, proc.stderr
    assert "missing: mosquitto\n" in proc.stdout
    assert "would run: sudo env DEBIAN_FRONTEND=noninteractive apt-get" in proc.stdout
    assert calls == []


def test_list_file_comments_blanks_and_duplicates(tmp_path):
    listing = tmp_path / "packages.txt"
    listing.write_text("# header\n\nmosquitto   # broker\n  chromium\nmosquitto\n")
    proc, calls = _run(tmp_path, "--list", str(listing), "systemd")
    assert proc.returncode == 0, proc.stderr
    assert calls[1].split()[-3:] == ["mosquitto", "chromium", "systemd"]


def test_unreadable_list_and_unknown_option_are_usage_errors(tmp_path):
    proc, _ = _run(tmp_path, "--list", str(tmp_path / "nope.txt"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: cannot read package list")
    proc, _ = _run(tmp_path, "--frobnicate")
    assert proc.returncode == 2 and "unknown option" in proc.stderr


def test_off_debian_names_the_packages_and_carries_on(tmp_path):
    proc, _ = _run(tmp_path, "mosquitto", stubs=("id",))
    assert proc.returncode == 0
    assert "not a Debian system" in proc.stdout and "mosquitto" in proc.stdout


@pytest.mark.skipif(shutil.which("dpkg-query") is None or shutil.which("make") is None, reason="needs Debian and make")
def test_make_test_runs_the_package_step_first_and_ci_only_runs_make_test():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry = subprocess.run(["make", "-s", "-C", str(REPO), "system-packages", "DRY_RUN=1"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("system packages: ")
    plan = subprocess.run(["make", "-n", "-C", str(REPO), "test"], env=env, capture_output=True, text=True, timeout=60)
    lines = plan.stdout.splitlines()
    step = next(i for i, line in enumerate(lines) if "system-packages.sh" in line and "system-packages.txt" in line)
    pytest_line = next(i for i, line in enumerate(lines) if "pytest" in line)
    assert step < pytest_line
    ci = (REPO / ".ci" / "run").read_text()
    assert "apt-get" not in ci and ci.rstrip().endswith("make test")
