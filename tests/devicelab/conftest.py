"""Fixtures of the device lab: one booted emulated Pi per target (module scope), the desktop's camera.

The rootfs tarballs come from ``make devicelab`` (device/lab/build.sh). A missing tarball or tool skips
these tests, except under ``make test-devicelab`` (EDGEVISION_LAB_REQUIRE=1), where it fails them; a
target whose last build failed (its status file says why) fails them in any case.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import camera  # noqa: F401 - the MJPEG stream the devices label (shared network)
from tests.devicelab import lab

# Per test, whatever the command line says: a first deploy with --install builds the venv under emulation
# (trixie arm64: about 9 minutes at nice 19), past the suite's default of 600 s.
LAB_TEST_TIMEOUT = 3600


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "devicelab" in item.nodeid:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.timeout(LAB_TEST_TIMEOUT))


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("EDGEVISION_LAB_REQUIRE") == "1":
        pytest.fail(f"device lab prerequisite missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module", params=sorted(lab.TARGETS))
def device(request: pytest.FixtureRequest) -> Iterator[lab.Device]:
    """A freshly unpacked, booted device of one target; powered off and removed afterwards."""
    name = request.param
    wanted = os.environ.get("EDGEVISION_LAB_TARGETS")
    if wanted and name not in wanted.split(","):
        pytest.skip(f"{name} not in EDGEVISION_LAB_TARGETS")
    _need(os.geteuid() == 0, "the device lab needs root (systemd-nspawn)")
    _need(not lab.missing_tools(), f"missing {', '.join(lab.missing_tools())} (apt install systemd-container "
          "mmdebstrap arch-test qemu-user-static openssh-client)")
    if not lab.tarball(name).is_file() and (why := lab.build_failure(name)):
        pytest.fail(f"{name}: its rootfs build failed: {why}")   # a failed build is a failure, never a skip
    _need(lab.tarball(name).is_file(), f"{lab.tarball(name)} not built (make devicelab)")
    dev = lab.start(name)
    try:
        yield dev
    finally:
        dev.stop()
