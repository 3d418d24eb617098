"""Device lab only: a stand-in for kms++'s Python binding (``pykms``), never for the camera.

Raspberry Pi OS ships ``python3-kms++``; Debian (the lab's trixie) has no kms++ at all, and PyPI's
``rpi-kms`` is an sdist that needs kms++'s C++ build. picamera2 imports ``pykms`` when it is imported,
only for its DRM preview window (``picamera2/previews/drm_preview.py`` reads ``PixelFormat`` names in
its class body). The lab's test opens no preview, so this module answers those names and refuses a
display; libcamera, picamera2 and the camera lookup stay the real ones.
"""


class _Names(type):
    def __getattr__(cls, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return name


class PixelFormat(metaclass=_Names):
    """Any format name reads as itself (only used as a dictionary key by picamera2)."""


class Card:
    """The DRM device picamera2's preview would draw on: there is none."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise OSError("pykms.Card: no DRM display in the device lab (stand-in for python3-kms++)")
