"""A device profile may name sinks every bundle for that board runs (the Raspberry Pi profiles: the metrics
endpoint); a bundle's own --sink of the same kind wins, and a profile's entries are checked like a bundle's."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgevision.deploy.bundle import BundleOptions, make_bundle
from edgevision.errors import BadInput
from edgevision.profiles import Profile, load_profile
from edgevision.releases.runtime_config import Sink


def test_raspberry_pi_profiles_turn_metrics_on_and_a_bundle_may_change_the_port(models, tmp_path: Path) -> None:
    for name in ("rpi3", "rpi4", "rpi5"):
        m = make_bundle(models.int8, load_profile(name), BundleOptions(source="0"), tmp_path / name)
        assert [str(s) for s in m.runtime.sinks] == ["metrics=9464"]
        cfg = m.runtime.run_config(Path("/r/releases/x"), Path("/r/labels.jsonl"))
        assert {s.kind: s for s in cfg.outputs.sinks}["metrics"].value("metrics") == 9464
    m = make_bundle(models.int8, load_profile("rpi5"), BundleOptions(source="0", sinks=(
        Sink.parse("metrics=9100"), Sink.parse("metrics-host=0.0.0.0"))), tmp_path / "own")
    assert [str(s) for s in m.runtime.sinks] == ["metrics=9100", "metrics-host=0.0.0.0"]
    plain = make_bundle(models.int8, load_profile("x86-64"), BundleOptions(source="0"), tmp_path / "x86")
    assert plain.runtime.sinks == ()


@pytest.mark.parametrize(("sinks", "message"), [
    (["metrics-token=abcdefgh12"], "a secret never goes into a bundle"),
    (["out=/etc/passwd"], "never names a file for the device to read"),
    (["frobnicate=1"], "unknown sink"),
    ("metrics=9464", "must be a list"),
])
def test_a_profile_sink_is_checked_like_a_bundle_one(models, tmp_path: Path, sinks, message: str) -> None:
    profile = Profile("board", delegate="cpu", source="0", extra={"sinks": sinks})
    with pytest.raises(BadInput, match=message):
        make_bundle(models.int8, profile, BundleOptions(source="0"), tmp_path / "b")
    assert not (tmp_path / "b").exists()
