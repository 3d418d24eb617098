"""Inference backends by name: which one runs a model, and the module that opens it (imported only then).

Each line of :data:`BACKENDS` is data: what the backend claims (``--delegate`` kinds, ``--source`` names
it serves itself because its frames carry the results, model files only it runs) and the dotted module
that opens it. Nothing is imported to choose, so a start pays only for the backend it runs. A package
installed beside edgevision adds a backend through the ``edgevision.backends`` entry-point group (the
value names a :class:`BackendEntry`); those are looked up only when asked for by name or when no
built-in backend claims the model.

A backend module defines ``open_backend(config, reader_thread) -> Backend``; one that brings its own
frames (a sensor that runs the network) also ``open_with_source(config, source, read_timeout) ->
(Backend, FrameSource)``. Other optional hooks (``doctor``, ``bench``, ``describe_model``, release hooks)
let the CLI, the benchmarks and deploy reach a backend's own tools through this registry.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): every start defines this module's
# named tuples, and typing compiles each string annotation of their fields (docs/architecture.md).

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from edgevision.errors import BadInput

if TYPE_CHECKING:
    from edgevision.runtime.backend import Backend

ENTRY_POINT_GROUP = "edgevision.backends"


class BackendConfig(NamedTuple):
    """Which model to run and how (the backend part of a run configuration).

    ``model`` is a file (or folder) path, or an object that already is a backend (an open
    :class:`~edgevision.runtime.classifier.Classifier`, for the Python API). ``name`` picks a backend; left
    out, the source, the delegate and the model choose it (:func:`choose`)."""

    model: Any
    labels: Path | None = None
    top_k: int = 3
    threshold: float | None = None
    threads: int | None = None
    delegate: str | None = None
    normalization: str | None = None
    name: str | None = None


class BackendEntry(NamedTuple):
    """One backend: its name, what it claims, and the module that opens it."""

    name: str
    module: str
    summary: str
    delegates: tuple[str, ...] = ()       # ``--delegate`` kinds that choose it
    sources: tuple[str, ...] = ()         # ``--source`` names it serves itself (NAME or NAME:...)
    model_suffixes: tuple[str, ...] = ()  # model files only it runs
    model_files: tuple[str, ...] = ()     # files in a release or output folder that make it its model
    source_help: str = ""                 # how ``--source`` names it, for help texts
    model_help: str = ""                  # what its MODEL argument is, for help texts
    device_tools: tuple[str, ...] = ()    # programs deploy's pre-flight looks for on a device's PATH
    device_files: tuple[str, ...] = ()    # files it looks for there (firmware)
    examples: tuple[tuple[str, str], ...] = ()  # (command, example line) for that command's --help
    notes: tuple[tuple[str, str], ...] = ()     # (command, a paragraph of its --help, lines of <= 100)

    def serves_source(self, source: object) -> bool:
        return isinstance(source, str) and any(source == s or source.startswith(f"{s}:") for s in self.sources)

    def claims_model(self, model: object) -> bool:
        if not isinstance(model, str | Path):
            return False
        path = Path(model)
        if path.suffix.lower() in self.model_suffixes or path.name in self.model_files:
            return True
        return bool(self.model_files) and path.is_dir() and any((path / f).is_file() for f in self.model_files)

    def load(self) -> ModuleType:
        """The backend's module (imported now, on first use)."""
        return importlib.import_module(self.module)

    def hook(self, name: str) -> Any:
        """An optional function of the backend's module (``doctor``, ``bench``, ...), or None."""
        return getattr(self.load(), name, None)

    def open(self, config: BackendConfig, reader_thread: bool = True) -> "Backend":
        """Open the backend on ``config.model``; ``reader_thread``: another thread reads the source (so the
        interpreter's default threads leave it a core)."""
        return self.load().open_backend(config, reader_thread)  # type: ignore[no-any-return]

    def open_with_source(self, config: BackendConfig, source: str, read_timeout: float = 5.0) -> "tuple[Backend, Any]":
        """For a backend that serves ``source`` itself: the backend and the frame source it runs on."""
        return self.load().open_with_source(config, source, read_timeout)  # type: ignore[no-any-return]


BACKENDS: tuple[BackendEntry, ...] = (
    BackendEntry("litert", "edgevision.runtime.litert_backend",
                 "LiteRT (TensorFlow Lite) on this machine's CPU, XNNPACK kernels",
                 model_suffixes=(".tflite",), model_help="a .tflite model"),
    BackendEntry("edgetpu", "edgevision.runtime.edgetpu_backend",
                 "LiteRT with Coral's Edge TPU delegate (libedgetpu); the model compiled by edgetpu_compiler",
                 delegates=("edgetpu",), model_help="a .tflite compiled for the Edge TPU"),
    BackendEntry("imx500", "edgevision.imx500.backend_entry",
                 "the Raspberry Pi AI Camera: the network runs on its IMX500 sensor",
                 sources=("imx500",), model_suffixes=(".rpk", ".zip"),
                 model_files=("network.rpk", "packerOut.zip", "imx500.json"),
                 source_help="imx500[:WxH]",
                 model_help="an IMX500 network (.rpk, with labels.txt and imx500.json beside it, or its release "
                            "folder)",
                 device_tools=("imx500-package",),
                 device_files=("/lib/firmware/imx500_loader.fpk", "/lib/firmware/imx500_main.fpk"),
                 examples=(
                     ("run", "edgevision run network.rpk --source imx500 --web 8080   (Raspberry Pi AI Camera: "
                             "the network runs on the sensor)"),
                     ("doctor", "edgevision doctor /opt/edgevision/current --source imx500     (Raspberry Pi AI "
                                "Camera)"),
                     ("bench", "edgevision bench run network.rpk --source imx500   (on-sensor time, Raspberry Pi "
                               "AI Camera)"),
                     ("info", "edgevision info digits_imx500/packerOut.zip   (an IMX500 network with its "
                              "imx500.json)"),
                 ),
                 notes=(
                     ("run", "imx500[:WxH]: the Raspberry Pi AI Camera; MODEL is then the .rpk, with labels.txt\n"
                             "and imx500.json beside it as edgevision deploy leaves them."),
                     ("doctor", "For the AI Camera (a .rpk, a release folder or the `convert --target imx500`\n"
                                "folder): picamera2 and its IMX500 helper, the sensor firmware, imx500-package,\n"
                                "the network and its sensor input settings, the labels and the camera itself;\n"
                                "with --source imx500 also live outputs and the sensor's own inference time."),
                 )),
)
DEFAULT = BACKENDS[0]


def plugins() -> tuple[BackendEntry, ...]:
    """Backends other packages register under the ``edgevision.backends`` entry-point group."""
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        entry = ep.load()
        if not isinstance(entry, BackendEntry):
            raise BadInput(f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}): not an edgevision BackendEntry")
        found.append(entry)
    return tuple(found)


def by_name(name: str) -> BackendEntry:
    for entry in BACKENDS:
        if entry.name == name:
            return entry
    for entry in plugins():
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in (*BACKENDS, *plugins()))
    raise BadInput(f"--backend {name!r}: unknown backend; known: {known}")


def choose(config: BackendConfig, source: object = None) -> BackendEntry:
    """The backend for a model and a source: ``config.name`` if given; else one that serves the source
    itself; else one the delegate names; else one that claims the model file; else LiteRT on the CPU."""
    if config.name:
        return by_name(config.name)
    for entry in BACKENDS:
        if entry.serves_source(source):
            return entry
    kind = (config.delegate or "").partition(":")[0]
    for entry in BACKENDS:
        if kind and kind in entry.delegates:
            return entry
    for entry in BACKENDS:
        if entry.claims_model(config.model):
            return entry
    if isinstance(config.model, str | Path) and Path(config.model).suffix.lower() not in (".tflite", ""):
        for entry in plugins():  # a model file no built-in backend knows: perhaps a plug-in's
            if entry.claims_model(config.model):
                return entry
    return DEFAULT


def open_backend(config: BackendConfig, source: object = None, reader_thread: bool = True) -> "Backend":
    """Open the chosen backend on its model (for backends that run on frames from any source)."""
    entry = choose(config, source)
    if entry.sources and not entry.serves_source(source):
        raise BadInput(f"{config.model}: runs on {entry.summary}; give --source {entry.source_help or entry.name}")
    return entry.open(config, reader_thread)


def examples(command: str) -> list[str]:
    """The backends' example lines for a command's --help."""
    return [line for e in BACKENDS for c, line in e.examples if c == command]


def notes(command: str) -> list[str]:
    """The backends' paragraphs for a command's --help."""
    return [text for e in BACKENDS for c, text in e.notes if c == command]


def models_help() -> str:
    """What a MODEL argument may be, backend by backend (for help texts)."""
    return "; ".join(e.model_help + (f" (with --source {e.source_help})" if e.sources else "")
                     for e in BACKENDS if e.model_help) + "."


def with_hook(model: object, source: object, hook: str, delegate: str | None = None) -> Any:
    """The ``hook`` of the backend that would run ``model`` on ``source``, or None (its module is imported only
    when the model or source is one it claims, or it is the default)."""
    entry = choose(BackendConfig(model=model, delegate=delegate), source)
    return entry.hook(hook)


def source_names() -> tuple[str, ...]:
    """How ``--source`` names the backends that bring their own frames (for help texts)."""
    return tuple(e.source_help or e.name for e in BACKENDS if e.sources)


def for_profile(profile: object) -> BackendEntry | None:
    """The backend a device profile names (``backend = "NAME"`` in its TOML, or the ``backend`` of a
    manifest's profile section); None for the default (LiteRT, on the CPU or with the profile's delegate)."""
    if isinstance(profile, dict):
        name = profile.get("backend")
    else:
        name = (getattr(profile, "extra", None) or {}).get("backend")
    if name is None:
        return None
    if not isinstance(name, str) or len(name) > 64:
        raise BadInput(f"profile backend {str(name)[:64]!r}: not a backend name")
    return by_name(name)


def release_hook(profile: object, name: str) -> Any:
    """A release hook (``make_bundle``, ``prepare_release``, ``check_release_files``, ``DERIVED_FILES``,
    ``preflight``, ``DEVICE_TOOLS``, ``DEVICE_FILES``) of the backend a profile names, or None."""
    entry = for_profile(profile)
    return None if entry is None else entry.hook(name)
