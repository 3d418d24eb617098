"""How a ``--source`` names the Raspberry Pi AI Camera: ``imx500`` or ``imx500:WxH``.

Apart from the IMX500 source and backend, so that ``run``, ``doctor``, ``bench`` and ``stream`` can tell
an AI Camera source from any other without importing them.
"""

from __future__ import annotations

from edgevision.errors import BadInput


def is_imx500_source(spec: object) -> bool:
    return isinstance(spec, str) and (spec == "imx500" or spec.startswith("imx500:"))


def parse_size(spec: str) -> tuple[int, int] | None:
    """The ``WxH`` of ``imx500:WxH`` (None for plain ``imx500``), within the sensor's 4056x3040."""
    parts = spec.split(":")[1:]
    if not parts or not parts[0]:
        return None
    try:
        w, h = (int(v) for v in parts[0].lower().split("x"))
    except ValueError:
        raise BadInput(f"{spec}: size must look like imx500:640x480") from None
    if not (16 <= w <= 4056 and 16 <= h <= 3040):
        raise BadInput(f"{spec}: size must be within the sensor's 4056x3040")
    return (w, h)
