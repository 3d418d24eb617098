"""[TF] PyTorch models: an exported program (``.pt2``) or an ``nn.Module`` plus an example input.

Route: torch.export -> ONNX (torch's own exporter) -> onnx2tf, with the exported program
itself, run by PyTorch, as the reference. Why ONNX rather than ``litert-torch``: litert-torch
pulls JAX and transformers and pins ai-edge-litert, while this route reuses the ONNX
front-end (onnx2tf, onnxruntime) with nothing but torch added, and it lets a user check the
intermediate ONNX file with their own tools. Either way the float32 TFLite is compared with
PyTorch's output on the same pixels before anything is quantized.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.convert.frontends.frontend_base import BroughtModel
from edgevision.errors import BadInput, MissingDependency


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependency("torch", "pytorch", "converting a PyTorch model") from None
    return torch


def _input_shape(program: Any, origin: str) -> list[int]:
    spec = program.graph_signature
    users = [s for s in spec.input_specs if s.kind.name == "USER_INPUT"]
    if len(users) != 1:
        raise BadInput(f"{origin}: model has {len(users)} inputs; an image classifier has exactly one")
    nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    val = nodes[users[0].arg.name].meta.get("val")
    shape = [int(d) if str(d).isdigit() else None for d in getattr(val, "shape", ())]
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise BadInput(f"{origin}: input shape {shape} is not an NCHW image (batch, 1 or 3 channels, height, width)")
    outs = [s for s in spec.output_specs if s.kind.name == "USER_OUTPUT"]
    if len(outs) != 1:
        raise BadInput(f"{origin}: model has {len(outs)} outputs (a detector or multi-head model?); an image "
                       "classifier has one (batch, classes) output")
    return shape


def from_program(program: Any, origin: str, size: tuple[int, int] | None = None,
                 sample_images: np.ndarray | None = None) -> BroughtModel:
    """An ``ExportedProgram`` -> ONNX (temporary) -> onnx2tf, with PyTorch as the reference."""
    from edgevision.convert.frontends.onnx_src import load_onnx

    torch = _torch()
    shape = _input_shape(program, origin)
    if shape[2] is None or shape[3] is None:
        if size is None:
            raise BadInput(f"{origin}: input height/width are dynamic; give the size with --size WxH")
        shape[2], shape[3] = size[1], size[0]
    example = torch.zeros([1 if shape[0] is None else shape[0], *shape[1:]])
    module = program.module()
    with tempfile.TemporaryDirectory(prefix="edgevision-torch-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        try:
            torch.onnx.export(program, (example,), str(onnx_path), input_names=["input"], output_names=["scores"],
                              dynamo=True, verbose=False)
        except ImportError as exc:
            raise MissingDependency(exc.name or "onnxscript", "pytorch", f"{origin}: exporting to ONNX") from None
        except Exception as exc:  # noqa: BLE001 - exporter errors
            raise BadInput(f"{origin}: torch.onnx.export failed ({_first(exc)})") from None
        brought = load_onnx(onnx_path, None, sample_images)

    def run(x: np.ndarray) -> np.ndarray:
        # One image at a time (the program's batch is fixed) on one thread: with a batch of 1, torch's OpenMP
        # workers spin-wait for each other, and on a busy 2-core machine that made each image 15x slower.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
                return np.concatenate([module(t[i:i + 1]).detach().numpy() for i in range(len(t))])
        finally:
            torch.set_num_threads(threads)

    brought.kind, brought.origin, brought.run_original = "pytorch", origin, run
    brought.route = f"torch.export -> ONNX (torch {torch.__version__}) -> {brought.route}"
    brought.keepalive = (brought.keepalive, module)
    return brought


def load_pt2(path: Path, size: tuple[int, int] | None = None) -> BroughtModel:
    torch = _torch()
    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # noqa: BLE001 - corrupt archives raise many types
        raise BadInput(f"{path}: not a torch.export program ({_first(exc)})") from None
    return from_program(program, str(path), size)


def from_module(module: Any, example: Any, origin: str = "nn.Module") -> BroughtModel:
    """Python API: an ``nn.Module`` in eval mode and an example NCHW input tensor."""
    torch = _torch()
    module.eval()
    try:
        program = torch.export.export(module, (example,))
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{origin}: torch.export.export failed ({_first(exc)})") from None
    return from_program(program, origin)
