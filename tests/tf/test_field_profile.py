"""The converter packs a reference profile into every model it writes, measured per variant on the held-out images
through the device runtime; a run of that model watches its input against it without further setup."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgevision.model.profile_signals import CONFIDENCE, INPUT_SIGNALS, PROFILE_FILE
from edgevision.model.reference_profile import profile_in_model

pytestmark = pytest.mark.tf


def test_each_converted_variant_carries_its_own_profile(trained) -> None:
    int8 = profile_in_model(trained.int8.read_bytes(), str(trained.int8))
    f32 = profile_in_model(trained.float32.read_bytes(), str(trained.float32))
    assert int8 is not None and f32 is not None
    held = trained.report["images"]
    assert int8.images == f32.images == held == 80
    assert int8.labels == ("circle", "cross", "square", "star", "triangle")
    assert int8.origin == f"converter: {trained.report['split']} split, {held} images, int8"
    assert abs(sum(int8.label_mix) - 1.0) < 1e-6
    conf = int8.signal(CONFIDENCE)
    assert conf is not None and 0 <= conf.quantile(0) <= conf.quantile(1) <= 1
    brightness = int8.signal("brightness")
    assert brightness is not None and 0 <= brightness.quantile(0) < brightness.quantile(1) <= 255
    assert {s.name for s in int8.signals} == {CONFIDENCE, *INPUT_SIGNALS}
    from edgevision.model.artifact import load_artifact

    assert PROFILE_FILE in load_artifact(trained.int8).files  # an associated file like the labels and the card
    # the inputs are the same images, the confidences are each variant's own
    assert int8.signal("contrast") == f32.signal("contrast")
    assert int8.signal(CONFIDENCE) != f32.signal(CONFIDENCE)


def test_the_converted_model_is_watched_and_a_covered_lens_is_drift(trained, tmp_path: Path) -> None:
    from edgevision.session.stream import stream

    held = sorted((trained.data / "test").rglob("*.png"))
    assert [e.label for e in stream(trained.int8, trained.data / "test") if e.label] != []
    covered = tmp_path / "covered"
    covered.mkdir()
    rng = np.random.default_rng(0)
    for p in held:
        cv2.imwrite(str(covered / p.name), np.clip(rng.normal(4, 2, (32, 32, 3)), 0, 255).astype(np.uint8))
    from edgevision.pipeline.drift_config import DriftConfig
    from edgevision.runtime.backends import BackendConfig
    from edgevision.session.config import RunConfig, SourceConfig
    from edgevision.session.run import Run

    def verdicts(folder: Path) -> list[str]:
        config = RunConfig(SourceConfig(str(folder), loop=True), BackendConfig(model=trained.int8), quiet=True,
                           drift=DriftConfig(window=40, min_frames=20))
        states = []
        with Run(config) as session:
            for i, _ in enumerate(session.events()):
                if session.drift is not None and session.drift.frame == i:
                    states.append(session.drift.state)
                if i >= 200:
                    break
        return states

    assert set(verdicts(trained.data / "test")) == {"ok"}
    assert verdicts(covered)[-1] == "drifting"
