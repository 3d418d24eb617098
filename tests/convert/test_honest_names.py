"""A file called int8 is integer end to end: checked from its ops, not its name (no TensorFlow)."""

from __future__ import annotations

import json

from edgevision.runtime.inspect import op_table, plain_interpreter, quantization_summary


def test_int8_file_is_integer_end_to_end(trained) -> None:
    ops = op_table(plain_interpreter(trained.int8.read_bytes()))
    assert ops and "DEQUANTIZE" not in {op["op"] for op in ops}
    for op in ops:
        for t in op["inputs"] + op["outputs"]:  # weights, biases, activations and I/O alike
            assert t["dtype"] in ("int8", "uint8", "int32"), f"{op['op']}: {t['name']} is {t['dtype']}"
            assert min(t["shape"]) >= 1, f"{op['op']}: {t['name']} has a dynamic shape {t['shape']}"
    assert {op["op"] for op in ops} & {"SHAPE", "STRIDED_SLICE", "PACK"} == set()  # static batch of 1
    assert quantization_summary(plain_interpreter(trained.int8.read_bytes())) == "int8"
    assert quantization_summary(plain_interpreter(trained.float32.read_bytes())) == "float32"


def test_info_states_the_real_quantization(trained, cli) -> None:
    out = cli("info", trained.int8, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["quantization"] == "int8" and d["card"]["quantization"] == "int8"
    facts = d["quantization_facts"]
    assert facts["integer_only"] and facts["float_ops"] == [] and "float32" not in facts["tensor_types"]
    assert "DELEGATE" not in d["ops"]
    cal = d["card"]["calibration"]
    assert cal["stratified"] and cal["images"] > 0 and sum(cal["per_class"].values()) == cal["images"]
    text = cli("info", trained.int8)
    assert "quantization: int8" in text.stdout and "integer end to end" in text.stdout
    assert "calibration:" in text.stdout and "reference images: 3" in text.stdout


def test_metadata_description_names_the_quantization(trained) -> None:
    from edgevision.model.artifact import load_artifact

    art = load_artifact(trained.int8)
    assert art.metadata is not None and "int8" in art.metadata.description
