"""The schema of a benchmark result document, as every reader of it (``bench list``, ``bench report``, the
comparison, the sanity flags) uses it: what an import must satisfy, and what a store row is checked against.

Fields the readers use are typed (numbers are numbers, sections are objects, text is bounded); fields
they do not use may be anything a newer edgevision writes (``Any``, still bounded in size and depth by
the one document reader). A results file that passes this cannot break ``bench list`` or ``bench
report`` afterwards. Imported only when results are read (msgspec).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=512)]
Num = Annotated[float, msgspec.Meta(ge=-1e15, le=1e15)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


class Stats(msgspec.Struct):
    """A latency distribution (ms) or rate."""

    p50: Num | None = None
    p90: Num | None = None
    p99: Num | None = None
    mean: Num | None = None
    min: Num | None = None
    max: Num | None = None
    std: Num | None = None
    fps: Num | None = None
    runs: Count | None = None


class Invoke(Stats):
    p50: Num = 0.0  # required below (the one figure every row shows)


class Metrics(msgspec.Struct):
    invoke: Invoke
    fps: Num | None = None
    gmacs: Num | None = None
    init_ms: Num | None = None
    peak_rss_mb: Num | None = None
    rss_delta_mb: Num | None = None
    others_cpu: Num | None = None
    frames: Count | None = None
    preprocess: Stats | None = None
    dsp: Stats | None = None
    host_parse: Stats | None = None
    capture_to_label: Stats | None = None


class Model(msgspec.Struct):
    name: Text | None = None
    file: Text | None = None
    path: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    sha256: Text | None = None
    quantization: Text | None = None
    size_bytes: Count | None = None
    macs: Count | None = None
    input_dtype: Text | None = None
    input_shape: Annotated[list[Annotated[int, msgspec.Meta(ge=-1, le=2**31)]], msgspec.Meta(max_length=16)] | None \
        = None
    edgetpu_compiled: bool | None = None
    custom_ops: Annotated[list[Text], msgspec.Meta(max_length=1024)] | None = None


class Config(msgspec.Struct):
    delegate: Text = "cpu"
    threads: Annotated[int, msgspec.Meta(ge=0, le=4096)] | None = None
    xnnpack: bool = True
    runs: Count | None = None
    warmup: Count | None = None


class Device(msgspec.Struct):
    name: Text | None = None
    board: Text | None = None
    cpu: Text | None = None
    arch: Text | None = None
    os: Text | None = None
    kernel: Text | None = None
    python: Text | None = None
    profile: Text | None = None
    runtime: Text | None = None
    runtime_version: Text | None = None
    device_id: Text | None = None
    id: Text | None = None
    cores: Count | None = None
    max_mhz: Num | None = None
    memory_mb: Num | None = None
    emulated: Text | bool | None = None  # "qemu-user" (or "") as written; readers test its truth
    isa: Annotated[list[Text], msgspec.Meta(max_length=256)] | None = None


class Flag(msgspec.Struct):
    code: Text
    level: Text
    message: Annotated[str, msgspec.Meta(max_length=4096)]


class Pipeline(msgspec.Struct):
    fps: Num | None = None
    latency: Stats | None = None


class Probe(msgspec.Struct):
    """``conditions.before``/``after``: the board's state around a run."""

    cur_mhz: Num | None = None
    temp_c: Num | None = None
    load1: Num | None = None
    governor: Text | None = None
    throttled: Any = None
    throttle_events: Any = None


class EdgeTpu(msgspec.Struct):
    bus: Text | None = None
    speed_mbps: Num | None = None


class Conditions(msgspec.Struct):
    before: Probe | None = None
    after: Probe | None = None
    edgetpu: EdgeTpu | None = None


class Result(msgspec.Struct):
    schema: Annotated[int, msgspec.Meta(ge=1)]
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    kind: Text
    created: Annotated[str, msgspec.Meta(max_length=64)]
    model: Model
    config: Config
    device: Device
    metrics: Metrics
    flags: Annotated[list[Flag], msgspec.Meta(max_length=256)] | None = None
    pipeline: Pipeline | None = None
    conditions: Conditions | None = None
    on_sensor: bool | None = None
