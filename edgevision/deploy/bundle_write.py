"""Write a bundle's files: a directory or a reproducible archive, all plain 0644 files, staged then swapped in.

Shared by every kind of bundle (a .tflite release, an IMX500 release), so the on-disk form is one thing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from edgevision.errors import BadInput
from edgevision.releases.archive import is_archive, pack


def write_bundle(payload: dict[str, bytes], out: Path, force: bool) -> None:
    """Stage ``payload`` beside ``out`` and move it into place (or pack it when ``out`` is an archive name)."""
    if out.exists() and not force and (out.is_file() or any(out.iterdir())):
        raise BadInput(f"{out}: already exists (pass --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".bundle-") as tmp:
        staging = Path(tmp) / "b"
        staging.mkdir()
        for n, b in payload.items():
            (staging / n).write_bytes(b)
            (staging / n).chmod(0o644)
        if is_archive(out):
            pack(staging, out)
            return
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        staging.rename(out)
        out.chmod(0o755)
