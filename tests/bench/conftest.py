"""Tiny models with known shapes for the benchmark tests, without TensorFlow.

The float32 and int8 models are committed (``tests/fixtures/make_models.py`` converted them once
with TensorFlow; see its PROVENANCE.json). Two broken variants are derived here by editing the
FlatBuffer with the schema module ai-edge-litert ships (an unknown custom op, and the Edge TPU's
custom op), to exercise the errors a user meets with models that cannot be allocated here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_MODELS
from tests.fixtures.tflite_edit import with_custom_op

# conv 3x3 8ch on 32x32x3 (same), depthwise 3x3 (valid), dense 8 -> 5
TINY_MACS = 32 * 32 * 8 * 3 * 3 * 3 + 30 * 30 * 8 * 3 * 3 + 8 * 5


@dataclass(frozen=True)
class BenchModels:
    float32: Path
    int8: Path
    unknown_op: Path
    edgetpu: Path


@pytest.fixture(scope="session")
def bench_models(tmp_path_factory: pytest.TempPathFactory) -> BenchModels:
    out = tmp_path_factory.mktemp("bench_models")
    paths = BenchModels(out / "tiny_float32.tflite", out / "tiny_int8.tflite", out / "tiny_unknown_op.tflite",
                        out / "tiny_edgetpu.tflite")
    shutil.copy2(FIXTURE_MODELS / paths.float32.name, paths.float32)
    shutil.copy2(FIXTURE_MODELS / paths.int8.name, paths.int8)
    i8 = paths.int8.read_bytes()
    paths.unknown_op.write_bytes(with_custom_op(i8, "NotARealOp"))
    paths.edgetpu.write_bytes(with_custom_op(i8, "edgetpu-custom-op"))
    return paths
