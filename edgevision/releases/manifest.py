"""The bundle manifest: what a bundle holds, proven by sha256, checked on the device before anything runs.

A bundle is flat: ``manifest.json``, ``runtime.json``, the model, optionally a labels file. Every
file but the manifest is listed with its size and sha256. The bundle's id is a hash over that
content (files, runtime config, profile), so the same bundle always lands in the same release
directory, and the desktop can pass the id it expects so a manifest swapped in transit is caught too.
"""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgevision.errors import BadInput, CheckFailed
from edgevision.limits import hint, limits
from edgevision.plainfile import open_regular, read_regular
from edgevision.releases.config_checks import check_text
from edgevision.releases.runtime_config import RuntimeConfig, ServiceSettings, is_plain_name
from edgevision.runtime.backends import release_hook

FORMAT = "edgevision-bundle/1"
MANIFEST = "manifest.json"
RUNTIME = "runtime.json"
ALLOWED_SUFFIXES = (".tflite", ".json", ".txt", ".zip")  # data only: a bundle never carries anything executable
ID_CHARS = 16


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``; ``profile`` carries what the device needs from the profile (it has no profile files)."""

    id: str
    created: str
    edgevision: str
    profile: dict[str, Any]
    model: dict[str, Any]
    runtime: RuntimeConfig
    files: dict[str, dict[str, Any]]  # name -> {"sha256": hex, "size": bytes}
    format: str = FORMAT

    @staticmethod
    def compute_id(profile: dict[str, Any], runtime: RuntimeConfig, files: dict[str, dict[str, Any]]) -> str:
        core = {"format": FORMAT, "profile": profile, "runtime": runtime.to_dict(), "files": files}
        return sha256_bytes(canonical_json(core))[:ID_CHARS]

    @property
    def release_name(self) -> str:
        """The release directory on the device: readable and unique (``shapes_int8-1f2e3d4c5b6a7988``)."""
        stem = Path(self.runtime.model).stem
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:48] or "model"
        return f"{safe}-{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "id": self.id, "created": self.created, "edgevision": self.edgevision,
                "profile": self.profile, "model": self.model, "runtime": self.runtime.to_dict(),
                "files": self.files}

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes, origin: str) -> Manifest:
        """A manifest read by the one document reader (bounded size and depth, declared schema): any fault is
        one CheckFailed naming the file and the field."""
        from edgevision.documents import convert, decode_json
        from edgevision.releases.release_schemas import ManifestDoc

        cap = limits().manifest_bytes
        if len(raw) > cap:
            raise CheckFailed(f"{origin}: manifest is over {cap:,} bytes; not a bundle manifest")
        try:
            data = decode_json(raw, dict[str, Any], origin, cap)
        except BadInput as exc:
            raise CheckFailed(str(exc).replace(": not valid JSON", ": manifest is not valid JSON")) from None
        fmt = data.get("format")
        if fmt != FORMAT:
            raise CheckFailed(f"{origin}: unsupported bundle format {str(fmt)[:64]!r} (this edgevision reads "
                              f"{FORMAT}; upgrade edgevision on the device)")
        try:
            doc = convert(data, ManifestDoc, origin)
            runtime = RuntimeConfig.from_dict(doc.runtime, f"{origin}: runtime")
        except BadInput as exc:
            raise CheckFailed(str(exc)) from None
        files = {name: {"sha256": entry.sha256, "size": entry.size} for name, entry in doc.files.items()}
        return cls(id=doc.id, created=doc.created, edgevision=doc.edgevision, profile=doc.profile, model=doc.model,
                   runtime=runtime, files=files)


def check_profile(profile: dict[str, Any], origin: str) -> None:
    """The profile part a bundle carries: short plain strings, and a [service] table the unit accepts."""
    try:
        for key, value in profile.items():
            check_text(str(key), f"{origin}: profile key", 64)
            if isinstance(value, str):
                check_text(value, f"{origin}: profile {key}", 128)
            elif not isinstance(value, bool | int | float | dict | type(None)):
                raise BadInput(f"{origin}: profile {key} must be a string, number, boolean or table")
        ServiceSettings.from_dict(profile.get("service", {}), f"{origin}: profile [service]")
    except BadInput as exc:
        raise CheckFailed(str(exc)) from None


def file_entry(data: bytes) -> dict[str, Any]:
    return {"sha256": sha256_bytes(data), "size": len(data)}


def _hash_file(path: Path, expected: int, keep: bool) -> tuple[int, str, bytes]:
    """Size, sha256 and (when ``keep``) the content, reading at most one byte past ``expected``: a kept file
    in one read of its declared size (one copy in memory), the others in 1 MB pieces. Only a regular file,
    never through a symbolic link (``open_regular``): what is hashed here is what is opened."""
    h = hashlib.sha256()
    with open_regular(path, "bundle file", follow=False) as fh:
        if keep:
            data = fh.read(expected + 1)
            h.update(data)
            return len(data), h.hexdigest(), data
        size = 0
        while size <= expected and (chunk := fh.read(min(1 << 20, expected + 1 - size))):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest(), b""


def verify_bundle_dir(directory: Path, expect_id: str | None = None,
                      verified: dict[str, bytes] | None = None) -> Manifest:
    """Check a bundle directory file by file; raise CheckFailed naming the first file at fault.

    The directory itself must not be a symbolic link, and every file is opened without following one.
    ``verified`` receives the bytes that were hashed (the model, the labels, runtime.json): a caller that
    runs the release hands these to the interpreter, so what runs is exactly what was verified."""
    from edgevision.model.artifact import load_artifact
    from edgevision.model.opcodes import is_edgetpu_model
    from edgevision.model.tflite_file import check_tflite

    where = str(directory)
    mpath = directory / MANIFEST
    if directory.is_symlink():
        raise CheckFailed(f"{where}: is a symbolic link; a bundle or release is a real directory")
    if not directory.is_dir():
        raise BadInput(f"{where}: bundle directory not found")
    if mpath.is_symlink() or not mpath.is_file():
        raise CheckFailed(f"{where}: no {MANIFEST} (not a bundle; make one with `edgevision bundle`)")
    try:
        raw = read_regular(mpath, MANIFEST, limits().manifest_bytes, follow=False)
    except BadInput as exc:
        raise CheckFailed(str(exc)) from None
    manifest = Manifest.from_json(raw, str(mpath))
    present: dict[str, Path] = {}
    for entry in sorted(directory.iterdir()):
        st = entry.lstat()
        if not stat.S_ISREG(st.st_mode):
            kind = ("symlink" if stat.S_ISLNK(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode)
                    else "special file")
            raise CheckFailed(f"{entry}: a {kind} in a bundle is refused (bundles hold plain files only)")
        if entry.name != MANIFEST:
            present[entry.name] = entry
    for name in manifest.files:
        if not is_plain_name(name) or not name.endswith(ALLOWED_SUFFIXES) or name == MANIFEST:
            raise CheckFailed(f"{where}: manifest lists {name!r}; bundles hold only plain "
                              f"{'/'.join(ALLOWED_SUFFIXES)} files")
    try:  # a backend whose model is not a .tflite (a sensor's network) checks its own files
        check_files = release_hook(manifest.profile, "check_release_files")
        derived = release_hook(manifest.profile, "DERIVED_FILES") or frozenset()
    except BadInput as exc:
        raise CheckFailed(f"{mpath}: {exc}") from None
    extra = sorted(set(present) - set(manifest.files) - derived)
    if extra:
        raise CheckFailed(f"{directory / extra[0]}: not listed in the manifest (bundle was modified)")
    lim = limits()
    declared = sum(v["size"] for v in manifest.files.values())
    if declared > lim.bundle_bytes:
        raise CheckFailed(f"{where}: the manifest declares {declared / 2**20:.0f} MB of files, over the "
                          f"{lim.bundle_bytes / 2**20:.0f} MB bundle limit ({hint('bundle_bytes')})")
    contents: dict[str, bytes] = {}
    for name, expected in sorted(manifest.files.items()):
        if name not in present:
            raise CheckFailed(f"{directory / name}: listed in the manifest but missing")
        keep = name == manifest.runtime.model or not name.endswith(".tflite")
        # a model, a sensor's network archive, or a small data file (labels, runtime.json, a card)
        field = "model_bytes" if name.endswith(".tflite") else "packer_bytes" if name.endswith(".zip") \
            else "document_bytes"
        if keep and expected["size"] > getattr(lim, field):
            raise CheckFailed(f"{directory / name}: {expected['size']:,} bytes, over the limit for this file "
                              f"({hint(field)})")
        size, digest, data = _hash_file(present[name], expected["size"], keep)
        if size != expected["size"] or digest != expected["sha256"]:
            raise CheckFailed(f"{directory / name}: sha256 does not match the manifest (file was altered)")
        if keep:
            contents[name] = data
    if check_files is not None:
        check_files(contents, directory, where)
    elif manifest.runtime.model not in contents:
        raise CheckFailed(f"{where}: the model {manifest.runtime.model!r} is not in the manifest")
    if manifest.runtime.labels and manifest.runtime.labels not in contents:
        raise CheckFailed(f"{where}: the labels file {manifest.runtime.labels!r} is not in the manifest")
    if RUNTIME not in contents:
        raise CheckFailed(f"{where}: no {RUNTIME} in the manifest")
    try:
        runtime = RuntimeConfig.from_json(contents[RUNTIME], str(directory / RUNTIME))
    except BadInput as exc:
        raise CheckFailed(str(exc)) from None
    if runtime != manifest.runtime:
        raise CheckFailed(f"{directory / RUNTIME}: differs from the runtime config in the manifest")
    check_profile(manifest.profile, str(mpath))
    actual_id = Manifest.compute_id(manifest.profile, manifest.runtime, manifest.files)
    if actual_id != manifest.id:
        raise CheckFailed(f"{mpath}: id {manifest.id} does not match its content ({actual_id}): manifest was edited")
    if expect_id is not None and manifest.id != expect_id:
        raise CheckFailed(f"{where}: bundle id {manifest.id} is not the {expect_id} that was sent")
    if verified is not None:
        verified.update(contents)
    if check_files is not None:
        return manifest
    model, labels = contents[manifest.runtime.model], manifest.runtime.labels
    try:
        check_tflite(model, str(directory / manifest.runtime.model))
        # what the service will load, checked now: the labels against the model (bounded before allocation)
        load_artifact(directory / manifest.runtime.model, directory / labels if labels else None, data=model,
                      labels_data=contents[labels] if labels else None)
    except BadInput as exc:
        raise CheckFailed(str(exc)) from None
    if manifest.profile.get("requires_edgetpu_model") and not is_edgetpu_model(model):
        raise CheckFailed(f"{directory / manifest.runtime.model}: profile {manifest.profile.get('name')} needs an "
                          "Edge TPU compiled model")
    return manifest
