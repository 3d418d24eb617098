"""Result tables fit the terminal: minor columns go first, devices become a legend, model names stay whole."""

from __future__ import annotations

import io

from rich.console import Console

from edgevision.cli.tables import Layout, fit, print_fitted

HEADER = ("device", "model", "config", "p50 ms", "p90 ms", "init ms", "flags")
ROWS = [("kitchen · Raspberry Pi 4 Model B Rev 1.4 · tflite-runtime 2.14.0", "mobilenet_v2_1.0_224_quant_int8",
         "cpu xnnpack ×4", "25.1", "26.3", "40", "noisy, busy"),
        ("garage · Raspberry Pi 5 Model B Rev 1.0 · ai-edge-litert 2.3.0", "mobilenet_v2_1.0_224_float32",
         "cpu xnnpack ×4", "14.2", "14.9", "38", "")]
LAYOUT = Layout(drop=("init ms", "p90 ms", "device"), wrapping=("device", "config", "flags"), whole="model",
                abbreviate="device")


def test_wide_enough_keeps_everything() -> None:
    wide = fit(HEADER, ROWS, 300, LAYOUT)
    assert wide.header == HEADER and wide.rows == ROWS and wide.hidden == () and wide.legend == ()


def test_narrow_drops_in_order_then_abbreviates() -> None:
    mid = fit(HEADER, ROWS, 90, LAYOUT)
    assert mid.hidden == ("init ms",) and "p90 ms" in mid.header and mid.legend == ()
    narrow = fit(HEADER, ROWS, 70, LAYOUT)
    assert narrow.hidden == ("init ms", "p90 ms")
    assert [r[0] for r in narrow.rows] == ["D1", "D2"] and narrow.legend == (("D1", ROWS[0][0]), ("D2", ROWS[1][0]))


def _render(width: int) -> tuple[str, str]:
    out, notes = io.StringIO(), io.StringIO()
    print_fitted(Console(file=out, width=width), Console(file=notes, width=width), HEADER, ROWS, LAYOUT, title="t")
    return out.getvalue(), notes.getvalue()


def test_rendered_table_never_spills_over_the_edge() -> None:
    for width in (60, 70, 80, 100, 140):
        text, notes = _render(width)
        table = [ln for ln in text.splitlines() if ln[:1] in "┏┃┡│└"]
        assert all(len(ln) <= width and ln[-1] in "┓┃┩│┘" for ln in table), (width, text)
        if width >= 70:  # model names stay whole while there is any room for them; at 60 they fold
            assert ROWS[0][1] in text and ROWS[1][1] in text
        assert ("hidden to fit" in notes) == (width < 95)
