"""The sink seam: the run options, the bundle checks and the run configuration all come from one registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgevision.errors import BadInput
from edgevision.optionspec import BUNDLE_NO, RunOption, convert
from edgevision.pipeline.events import LabelEvent
from edgevision.releases.runtime_config import Sink
from edgevision.runtime.postprocess import Prediction
from edgevision.session.config import RunConfig
from edgevision.session.run_options import BUNDLE_OPTIONS, RUN_OPTIONS, RUN_TABLE
from edgevision.sinks.registry import SINKS, OutputsConfig, SinkConfig, SinkContext, SinkKind, open_outputs


def test_every_sink_option_is_a_run_option_and_no_flag_is_taken_twice() -> None:
    names = [o.name for o in RUN_TABLE]
    flags = [f for o in RUN_TABLE for f in (*o.flags, *((o.negative,) if o.negative else ()))]
    assert len(set(names)) == len(names) and len(set(flags)) == len(flags) == len(RUN_OPTIONS)
    for kind in SINKS:
        assert all(o in RUN_TABLE for o in kind.options), kind.kind


@pytest.mark.parametrize(("values", "kinds"), [
    ({}, ()),
    ({"stdout": True}, ("stdout",)),
    ({"stdout": False, "out": Path("x.jsonl")}, ("file",)),
    ({"web": 0}, ("web",)),  # port 0 (any free port) turns the view on
    ({"stdout": True, "mqtt": "mqtt://h/t", "web": 8080}, ("stdout", "mqtt", "web")),
    ({"mqtt": None, "web": None, "mqtt_node": "cam"}, ()),  # an option of a sink that is off turns nothing on
])
def test_the_first_option_of_a_sink_turns_it_on(values: dict[str, Any], kinds: tuple[str, ...]) -> None:
    assert OutputsConfig.from_values(values).kinds() == kinds


def test_cli_values_become_a_nested_frozen_run_config() -> None:
    cfg = RunConfig.from_options(Path("m.tflite"), {"source": "0", "top_k": 2, "smooth": 4, "web": 0,
                                                    "give_up_after": 30.0, "backend": "litert"})
    assert (cfg.source.spec, cfg.backend.top_k, cfg.backend.name, cfg.pipeline.smooth) == ("0", 2, "litert", 4)
    assert cfg.pipeline.reconnect.give_up_after == 30.0 and cfg.outputs.kinds() == ("stdout", "web")
    web = cfg.outputs.sinks[1]
    assert web.value("web") == 0 and web.value("host") == "127.0.0.1"  # defaults filled from the registry rows
    with pytest.raises(AttributeError):
        cfg.quiet = True  # type: ignore[misc]


def test_bundle_options_come_from_the_registry_rows() -> None:
    allowed = {o.flag[2:] for o in RUN_TABLE if o.bundle != BUNDLE_NO}
    assert allowed <= set(BUNDLE_OPTIONS) and "no-stdout" in BUNDLE_OPTIONS
    samples = {str: "mqtt://broker.local/cam", int: "8080", float: "2.5", Path: "/etc/edgevision/x"}
    for name, (option, _) in BUNDLE_OPTIONS.items():
        spec = name if option.kind is bool else f"{name}={_sample(option, samples)}"
        parsed = Sink.parse(spec)
        opt_name, value = parsed.option()
        assert opt_name == option.name and (option.kind is bool or isinstance(value, option.kind))
    for secret in [o.flag[2:] for o in RUN_TABLE if o.secret] + ["mqtt-password"]:
        with pytest.raises(BadInput, match="a secret never goes into a bundle"):
            Sink.parse(f"{secret}=hunter2")


def _sample(option: RunOption, samples: dict[type, str]) -> str:
    from edgevision.sinks import option_checks

    if option.check is option_checks.host:
        return "0.0.0.0"
    if option.check is option_checks.fraction:
        return "0.25"
    if option.name == "mqtt_node":
        return "kitchen-cam"
    return samples[option.kind]


@pytest.mark.parametrize(("option", "text", "message"), [
    (RunOption("n", ("--top-k",), int, 3, "", min=1), "0", "--top-k: 0 is below the minimum 1"),
    (RunOption("n", ("--web",), int, None, "", min=0, max=65535), "70000", "--web: 70000 is above the maximum 65535"),
    (RunOption("n", ("--smooth",), int, 1, ""), "2.5", "--smooth: expected an integer, got '2.5'"),
    (RunOption("n", ("--threshold",), float, None, ""), "half", "--threshold: expected a number, got 'half'"),
])
def test_option_values_are_typed_and_ranged_in_one_place(option: RunOption, text: str, message: str) -> None:
    with pytest.raises(BadInput) as exc:
        convert(option, text)
    assert str(exc.value) == message


class Collect:
    """A sink for the test below: keeps what it gets."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.got: list[LabelEvent] = []

    def emit(self, event: LabelEvent) -> None:
        self.got.append(event)

    def close(self) -> None:
        pass


def open_sink(config: SinkConfig, context: SinkContext) -> Collect:
    return Collect(config.value("collect"))


def test_a_new_sink_is_a_module_with_open_sink_and_one_registry_row() -> None:
    kind = SinkKind("collect", __name__, "keeps events in a list",
                    (RunOption("collect", ("--collect",), str, None, "Keep events under this prefix."),))
    values = {"collect": "p"}
    assert kind.enabled(values) and not kind.enabled({})
    sink = kind.open(kind.config(values), SinkContext(model_name="m"))
    assert isinstance(sink, Collect) and sink.prefix == "p"
    fan = open_outputs(OutputsConfig(), SinkContext(), extra=(sink,))
    fan.emit(LabelEvent.classified(0, "s", (Prediction("a", 0.9, 0),), 1.0, 1.1, {}))
    assert [e.label for e in sink.got] == ["a"]
