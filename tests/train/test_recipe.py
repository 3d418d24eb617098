"""Recipes: TOML and YAML files, CLI overrides, and the clear refusals (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgevision.errors import BadInput
from edgevision.train.recipe import Augment, Recipe, available_recipes, load_recipe


def test_project_recipes_load_and_validate() -> None:
    names = {p.stem for p in available_recipes()}
    assert {"small_cnn", "mobilenet_v2", "mobilenet_v3_small"} <= names
    for path in available_recipes():
        r = load_recipe(str(path))
        assert r.name == path.stem and r.spec().width == r.size


def test_default_recipe_transfer_learns_with_a_from_scratch_fallback() -> None:
    r = load_recipe(None)
    assert r.arch == "mobilenet_v2" and r.weights == "imagenet" and r.total_epochs == r.epochs + r.fine_tune_epochs
    fb = load_recipe(r.fallback)
    assert fb.arch == "small_cnn" and fb.weights == "none" and fb.total_epochs == fb.epochs


def test_toml_and_yaml_give_the_same_recipe(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('arch = "mobilenet_v2"\nsize = 96\nweights = "imagenet"\nfine_tune_epochs = 3\n'
                                     "learning_rate = 1\n[augment]\nrotation = 0.1\n")
    (tmp_path / "a.yaml").write_text("arch: mobilenet_v2\nsize: 96\nweights: imagenet\nfine_tune_epochs: 3\n"
                                     "learning_rate: 1\naugment:\n  rotation: 0.1\n")
    t, y = load_recipe(str(tmp_path / "a.toml")), load_recipe(str(tmp_path / "a.yaml"))
    assert t == y and t.augment.rotation == 0.1 and t.learning_rate == 1.0
    assert t.pretrained and t.total_epochs == t.epochs + 3


def test_settings_override_nested_keys_with_typed_values() -> None:
    r = Recipe().with_settings(["augment.rotation=0", "l2=1e-4", "arch=mobilenet_v3_small", "minimalistic=true",
                                "cache=disk"])
    assert r.augment == Augment(rotation=0.0) and r.l2 == 1e-4 and r.arch == "mobilenet_v3_small"
    assert r.minimalistic is True and r.cache == "disk"


@pytest.mark.parametrize(("settings", "message"), [
    (["nope=1"], "unknown recipe key 'nope'"),
    (["augment.spin=1"], "unknown recipe key 'augment.spin'"),
    (["size"], "expected KEY=VALUE"),
    (["arch=resnet"], "unknown arch 'resnet'"),
    (["cache=ram"], "unknown cache 'ram'"),
    (["augment.zoom=1.5"], "augment.zoom must be a number in"),
    (["weights=imagenet"], "small_cnn trains from scratch"),
    (["size=8"], "size 8 out of range"),
])
def test_bad_settings_are_refused_with_the_key(settings: list[str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Recipe().with_settings(settings)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("size = [\n")
    with pytest.raises(BadInput, match=r"bad\.toml: invalid TOML"):
        load_recipe(str(bad))
    yml = tmp_path / "bad.yaml"
    yml.write_text("- just\n- a list\n")
    with pytest.raises(BadInput, match=r"bad\.yaml: a recipe must be a mapping"):
        load_recipe(str(yml))
    unknown = tmp_path / "u.toml"
    unknown.write_text("epocs = 3\n")
    with pytest.raises(BadInput, match=r"u\.toml: unknown recipe key"):
        load_recipe(str(unknown))
    with pytest.raises(BadInput, match="recipe 'no_such_recipe' not found"):
        load_recipe("no_such_recipe")
