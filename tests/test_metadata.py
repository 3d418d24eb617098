"""TFLite Metadata: what we write parses back, and the container tolerates/refuses the right things."""

from __future__ import annotations

import pytest

from edgevision.errors import BadInput
from edgevision.model.metadata import AssociatedFile, ClassifierMetadata, build_metadata, parse_metadata
from edgevision.model.tflite_file import associated_files, check_tflite, embed, metadata_buffers, read_model_bytes


def test_metadata_round_trip() -> None:
    md = ClassifierMetadata(name="shapes", description="d", version="1", width=40, height=30, mean=(127.5,),
                            std=(127.5,), model_files=(AssociatedFile("edgevision.json"),))
    buf = build_metadata(md)
    assert buf[4:8] == b"M001"
    parsed = parse_metadata(buf)
    assert parsed.name == "shapes" and parsed.version == "1"
    assert parsed.mean == (127.5,) and parsed.std == (127.5,)
    assert parsed.color_space == "RGB"
    assert parsed.labels_file == "labels.txt"
    assert set(parsed.files) == {"edgevision.json", "labels.txt"}
    assert parsed.min_parser_version == "1.0.0"


def test_parse_refuses_foreign_buffer() -> None:
    with pytest.raises(ValueError):
        parse_metadata(b"\x00" * 32)


def test_embed_replaces_metadata_and_zip(trained_int8_bytes: bytes) -> None:
    once = embed(trained_int8_bytes, {"TFLITE_METADATA": build_metadata(ClassifierMetadata(name="a"))},
                 {"labels.txt": b"x\n", "other.txt": b"1"})
    twice = embed(once, {"TFLITE_METADATA": build_metadata(ClassifierMetadata(name="b"))}, {"labels.txt": b"y\n"})
    check_tflite(twice, "twice")
    assert parse_metadata(metadata_buffers(twice)["TFLITE_METADATA"]).name == "b"
    assert associated_files(twice) == {"labels.txt": b"y\n"}


def test_not_a_tflite(tmp_path) -> None:
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(BadInput, match=r"not a TFLite model.*Keras"):
        read_model_bytes(bad)
    with pytest.raises(BadInput, match="not found"):
        read_model_bytes(tmp_path / "nope.tflite")
    with pytest.raises(BadInput, match="directory"):
        read_model_bytes(tmp_path)


def test_truncated_tflite_is_refused(tmp_path, trained_int8_bytes: bytes) -> None:
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(trained_int8_bytes[: len(trained_int8_bytes) // 3])
    with pytest.raises(BadInput, match=r"truncated|cannot load"):
        from edgevision.runtime.classifier import Classifier

        Classifier(cut)


def test_garbled_metadata_is_one_clear_error(cli, tmp_path, trained_int8_bytes: bytes) -> None:
    """Flipped bytes inside the embedded metadata make its offsets point anywhere: refuse, never crash."""
    raw = metadata_buffers(trained_int8_bytes)["TFLITE_METADATA"]
    at = trained_int8_bytes.find(bytes(raw))
    assert at > 0
    data = bytearray(trained_int8_bytes)
    for i in range(at + 8, at + min(len(raw), 200), 7):
        data[i] ^= 0xFF
    bad = tmp_path / "garbled.tflite"
    bad.write_bytes(bytes(data))
    for args in (["info", bad], ["bench", bad, "--runs", "2", "--no-store"], ["doctor", bad]):
        proc = cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert "garbled.tflite" in line and "corrupt" in line
