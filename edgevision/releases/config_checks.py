"""Validation of every string a bundle's runtime config carries, at ``bundle`` time and again on the device.

A bundle is data written by someone else: its strings are parsed for what they claim to be (a
camera index, a URL, a path, a port) and refused when they hold control characters, are too long,
or carry a secret that would end up in a world-readable file, or name a file for the device to read
(credentials and keys are the device's own configuration: releases/device_secrets.py). Nothing here is
ever pasted into a unit file or a shell; the checks make sure it could not do harm even if it were shown in a log.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgevision.errors import BadInput
from edgevision.redact import without_userinfo

MAX_TEXT = 1024
SOURCE_SCHEMES = ("http", "https", "rtsp", "rtsps")
PICAMERA = re.compile(r"^picamera2(:(main|lores))?(:\d{1,5}x\d{1,5})?$")
def control_char(value: str) -> str | None:
    """The first C0/C1 control character or Unicode line/paragraph separator in ``value``."""
    return next((c for c in value if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029\u0085"), None)


def check_text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    """Refuse control characters (newlines above all) and unbounded lengths; returns ``value``."""
    if len(value) > limit:
        raise BadInput(f"{what}: {len(value)} characters; at most {limit} are allowed")
    bad = control_char(value)
    if bad is not None:
        raise BadInput(f"{what}: contains the control character {bad!r}; refused")
    return value


def check_source(source: str) -> str:
    """A camera index, picamera2[:main|:lores][:WxH], an http(s)/rtsp URL without credentials, or a path."""
    check_text(source, "source")
    if not source.strip() or source.startswith("-"):
        raise BadInput(f"source {source!r} is empty or looks like an option")
    if source.isdigit():
        if int(source) > 63:
            raise BadInput(f"source {source!r}: camera index out of range (0..63)")
        return source
    if source.startswith("picamera2"):
        if not PICAMERA.match(source):
            raise BadInput(f"source {source!r}: expected picamera2[:main|:lores][:WxH]")
        return source
    if "://" in source:
        shown = without_userinfo(source)
        try:
            parts = urlsplit(source)
        except ValueError:
            raise BadInput(f"source {shown!r}: not a URL") from None
        if parts.scheme not in SOURCE_SCHEMES or not parts.hostname:
            raise BadInput(f"source {shown!r}: expected an {'/'.join(SOURCE_SCHEMES)} URL with a host")
        if "@" in parts.netloc:
            raise BadInput(f"source {shown!r}: the URL carries a user name or password, which would be stored in "
                           "the world-readable bundle; give it without them and, on the device, `edgevision device "
                           "secret set source-credentials` (user:password)")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise BadInput(f"source {shown!r}: invalid port") from None
        return source
    return source  # a path on the device (image, folder, video); read later with the runtime's own checks


def check_sink(kind: str, value: str | None) -> None:
    """One ``--sink KIND[=VALUE]`` of a bundle: a run option the table lets bundles set, its value parsed for
    what that option expects (type, range, and the option's own check)."""
    from edgevision.optionspec import convert
    from edgevision.session.run_options import BUNDLE_OPTIONS, RUN_TABLE
    from edgevision.sinks.registry import SINKS

    if any(o.secret and o.flag[2:] == kind for o in RUN_TABLE) or kind.endswith(("password", "token")):
        raise BadInput(f"--sink {kind}: a secret never goes into a bundle (its files are world-readable); "
                       f"{_on_the_device(kind, SINKS)}")
    found = BUNDLE_OPTIONS.get(kind)
    if found is None and any(o.kind is Path and o.flag[2:] == kind for o in RUN_TABLE):
        raise BadInput(f"--sink {kind}: a bundle never names a file for the device to read; "
                       f"{_on_the_device(kind, SINKS)}")
    if found is None:
        raise BadInput(f"--sink {kind}: unknown sink; known: {', '.join(sorted(BUNDLE_OPTIONS))}")
    option = found[0]
    if option.kind is bool:
        if value is not None:
            raise BadInput(f"--sink {kind}: is a flag and takes no value")
        return
    if value is None:
        raise BadInput(f"--sink {kind}: needs a value ({kind}=VALUE)")
    check_text(value, f"--sink {kind}")
    if value.startswith("-"):
        raise BadInput(f"--sink {kind}: value {value!r} looks like an option")
    if option.check is not None:
        option.check(value)
    try:
        convert(option, value)
    except BadInput as exc:
        raise BadInput(f"--sink {kind}={value}: {exc}") from None


def _on_the_device(kind: str, sinks: Any) -> str:
    """Where the device keeps what a bundle may not carry: the fixed files of the option's sink."""
    files = [o.device_file for sink in sinks if any(o.flag[2:] == kind or kind.startswith(sink.kind)
                                                   for o in sink.options)
             for o in sink.options if o.device_file]
    if not files:
        return "set it on the device"
    return (f"the device keeps it in its own configuration, ROOT/secrets/ ({', '.join(files)}): run "
            "`edgevision device secret set NAME` there")
