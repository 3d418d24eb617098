"""The converter's reference profile needs enough held-out images: with fewer than ten, a variant carries none
(and the conversion goes on), since a handful of images says nothing about a distribution."""

from __future__ import annotations

from pathlib import Path

from edgevision.convert.field_profile import field_profiles
from edgevision.data.discover import Sample
from edgevision.model.profile_signals import PROFILE_FILE
from edgevision.model.reference_profile import MIN_IMAGES, ReferenceProfile
from tests.conftest import FIXTURE_MODELS


def test_a_profile_needs_ten_images_and_unreadable_ones_do_not_count(shapes_data: Path, tmp_path: Path) -> None:
    model = {"int8": FIXTURE_MODELS / "shapes_int8.tflite"}
    images = sorted((shapes_data / "test").rglob("*.png"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    few = [Sample(str(p), 0) for p in images[:MIN_IMAGES - 1]] + [Sample(str(broken), 0)] * 5
    ticks: list[int] = []
    assert field_profiles(model, few, "test", on_image=lambda: ticks.append(1)) == {"int8": {}}
    assert len(ticks) == len(few), "every image is counted for the progress bar, readable or not"
    enough = [Sample(str(p), 0) for p in images[:MIN_IMAGES]] + [Sample(str(broken), 0)]
    made = field_profiles(model, enough, "test")["int8"][PROFILE_FILE]
    profile = ReferenceProfile.from_json(made, "p")
    assert profile.images == MIN_IMAGES and profile.origin == f"converter: test split, {MIN_IMAGES} images, int8"
