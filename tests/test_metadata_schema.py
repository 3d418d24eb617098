"""Every slot the metadata writer uses is the one the published ``metadata_schema.fbs`` gives its field,
and what it writes reads back field by field through the schema's own generated module.

Both come from MediaPipe's wheel (``mediapipe/tasks/metadata/``: the .fbs and its
``metadata_schema_py_generated``), in MediaPipe's own virtualenv: another tool's copy of the schema,
not ours.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from edgevision.model import metadata_fields as F
from edgevision.model.metadata import FILE_TENSOR_AXIS_LABELS, AssociatedFile, ClassifierMetadata, build_metadata
from tests.conftest import need

pytestmark = pytest.mark.interop

FIND = ("import importlib.util, pathlib; spec = importlib.util.find_spec('mediapipe'); "
        "print(pathlib.Path(spec.submodule_search_locations[0]) / 'tasks' / 'metadata')")


@pytest.fixture(scope="module")
def mediapipe_python() -> str:
    path = os.environ.get("EDGEVISION_MEDIAPIPE_PYTHON")
    need(bool(path) and Path(path or "").exists(), "no MediaPipe virtualenv (run `make test`)")
    return str(path)


@pytest.fixture(scope="module")
def schema_dir(mediapipe_python: str) -> Path:
    out = subprocess.run([mediapipe_python, "-c", FIND], capture_output=True, text=True, timeout=60, check=True)
    d = Path(out.stdout.strip())
    assert (d / "metadata_schema.fbs").is_file(), d
    return d


def _slots(fbs: str) -> dict[str, dict[str, int]]:
    """Each table's fields -> slot, from the schema text (a union field takes a ``_type`` slot first)."""
    text = re.sub(r"//[^\n]*", "", fbs)
    unions = set(re.findall(r"\bunion\s+(\w+)", text))
    tables: dict[str, dict[str, int]] = {}
    for name, body in re.findall(r"\btable\s+(\w+)\s*\{([^}]*)\}", text):
        slots: dict[str, int] = {}
        for field, ftype in re.findall(r"(\w+)\s*:\s*\[?\s*(\w+)", body):
            if ftype in unions:
                slots[f"{field}_type"] = len(slots)
            slots[field] = len(slots)
        tables[name] = slots
    return tables


def test_every_named_slot_is_the_schemas(schema_dir: Path) -> None:
    schema = _slots((schema_dir / "metadata_schema.fbs").read_text(encoding="utf-8"))
    checked = 0
    for table in ("AssociatedFile", "ImageSize", "ImageProperties", "Content", "NormalizationOptions", "ProcessUnit",
                  "Stats", "TensorMetadata", "SubGraphMetadata", "ModelMetadata"):
        ours = vars(getattr(F, table))
        fields = {k.lower(): v for k, v in ours.items() if k.isupper() and k != "COUNT"}
        for field, slot in fields.items():
            assert schema[table].get(field) == slot, (table, field, slot, schema[table])
            checked += 1
        assert max(fields.values()) < ours["COUNT"] <= len(schema[table]), table
    assert checked >= 35
    union = re.search(r"union\s+ContentProperties\s*\{([^}]*)\}", (schema_dir / "metadata_schema.fbs").read_text())
    assert union is not None
    members = [m for m in re.findall(r"\w+", re.sub(r"//[^\n]*", "", union.group(1)))]
    assert members.index("FeatureProperties") + 1 == F.CONTENT_FEATURE_PROPERTIES
    assert members.index("ImageProperties") + 1 == F.CONTENT_IMAGE_PROPERTIES


READ = r"""
import json, sys
from mediapipe.tasks.metadata import metadata_schema_py_generated as s
m = s.ModelMetadataT.InitFromObj(s.ModelMetadata.GetRootAs(open(sys.argv[1], 'rb').read(), 0))
d = lambda b: b.decode() if isinstance(b, bytes) else b
f = lambda v: [float(x) for x in v]  # numpy arrays of float32
sg = m.subgraphMetadata[0]
i, o = sg.inputTensorMetadata[0], sg.outputTensorMetadata[0]
img = i.content.contentProperties
norm = i.processUnits[0].options
print(json.dumps({
    "name": d(m.name), "description": d(m.description), "version": d(m.version), "author": d(m.author),
    "license": d(m.license), "min_parser_version": d(m.minParserVersion),
    "files": [[d(f.name), d(f.description), f.type] for f in m.associatedFiles],
    "input": [d(i.name), i.content.contentPropertiesType, img.colorSpace, img.defaultSize.width,
              img.defaultSize.height, i.processUnits[0].optionsType, f(norm.mean), f(norm.std),
              f(i.stats.min), f(i.stats.max)],
    "output": [d(o.name), o.content.contentPropertiesType, f(o.stats.min), f(o.stats.max),
               [[d(f.name), f.type] for f in o.associatedFiles]],
}))
"""


def test_the_generated_schema_module_reads_every_field_we_write(mediapipe_python: str, tmp_path: Path) -> None:
    md = ClassifierMetadata(name="shapes", description="five shapes", version="3", author="edgevision tests",
                            license="Apache-2.0", width=48, height=40, mean=(127.5, 120.0, 110.0),
                            std=(127.5, 60.0, 58.0), input_min=-1.0, input_max=1.0,
                            model_files=(AssociatedFile("edgevision.json", "the model card"),))
    path = tmp_path / "metadata.bin"
    path.write_bytes(build_metadata(md))
    out = subprocess.run([mediapipe_python, "-c", READ, str(path)], capture_output=True, text=True, timeout=120,
                         env={"PATH": os.environ["PATH"]})
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert {k: got[k] for k in ("name", "description", "version", "author", "license", "min_parser_version")} == {
        "name": "shapes", "description": "five shapes", "version": "3", "author": "edgevision tests",
        "license": "Apache-2.0", "min_parser_version": "1.0.0"}
    assert got["files"] == [["edgevision.json", "the model card", 0]]
    assert got["input"] == ["image", F.CONTENT_IMAGE_PROPERTIES, 1, 48, 40, F.UNIT_NORMALIZATION_OPTIONS,
                            [127.5, 120.0, 110.0], [127.5, 60.0, 58.0], [-1.0], [1.0]]
    assert got["output"] == ["probability", F.CONTENT_FEATURE_PROPERTIES, [0.0], [1.0],
                             [["labels.txt", FILE_TENSOR_AXIS_LABELS]]]
