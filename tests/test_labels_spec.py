"""Label files and the preprocessing spec: parsing what is found in the wild, refusing what is wrong."""

from __future__ import annotations

import pytest

from edgevision.errors import BadInput
from edgevision.model.labels import labels_sha256, parse_labels, read_labels
from edgevision.model.spec import ModelCard, PreprocessSpec


def test_plain_labels_one_per_line() -> None:
    assert parse_labels("cat\ndog\n\n") == ("cat", "dog")


def test_coral_indexed_labels_fill_gaps() -> None:
    # Coral label files number their lines and may skip indices
    assert parse_labels("0 background\n1 tench\n3 goldfish\n") == ("background", "tench", "2", "goldfish")


def test_labels_that_start_with_digits_are_not_mistaken_for_indices() -> None:
    assert parse_labels("3 cats\n1 dog\n") == ("3 cats", "1 dog")


def test_empty_and_blank_middle_labels_are_refused(tmp_path) -> None:
    with pytest.raises(BadInput, match="empty"):
        parse_labels("\n\n")
    with pytest.raises(BadInput, match="blank label"):
        parse_labels("a\n\nb\n")
    with pytest.raises(BadInput, match="not found"):
        read_labels(tmp_path / "missing.txt")


def test_label_hash_depends_on_order() -> None:
    assert labels_sha256(["a", "b"]) != labels_sha256(["b", "a"])


def test_spec_validates_its_fields() -> None:
    with pytest.raises(BadInput, match="crop"):
        PreprocessSpec(32, 32, crop="zoom")
    with pytest.raises(BadInput, match="std"):
        PreprocessSpec(32, 32, std=(0.0,))
    assert PreprocessSpec(32, 32).with_normalization("symmetric").mean == (127.5,)


def test_model_card_round_trip_and_foreign_json() -> None:
    card = ModelCard(name="m", spec=PreprocessSpec(48, 32, resize="area", crop="center"), labels_sha256="x",
                     num_classes=3, quantization="int8", validation={"accuracy": 0.9})
    back = ModelCard.from_json(card.to_json())
    assert back == card
    with pytest.raises(BadInput, match="not an edgevision model card"):
        ModelCard.from_json('{"hello": 1}')
    with pytest.raises(BadInput, match="not valid JSON"):
        ModelCard.from_json("{")
