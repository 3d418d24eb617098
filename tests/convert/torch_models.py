"""A small PyTorch CNN trained here and exported to ONNX and ``.pt2`` (torch alone, no torchvision).

Run as a script in the converter venv (``.venv-convert``, where torch lives)::

    python -m tests.convert.torch_models DATA OUT

It writes ``OUT/net.onnx``, ``OUT/net.pt2``, ``OUT/net_dynamic.onnx`` (dynamic height/width),
``OUT/two_inputs.onnx``, ``OUT/two_outputs.onnx``, ``OUT/labels.txt`` and
``OUT/torch_top1.json`` (the module's own top-1 on the test split, ImageNet-normalized, NCHW).
The network ends in logits, as PyTorch classifiers usually do.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SIZE = 48
MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def _load(data: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """NCHW, ImageNet-normalized batches of the split, decoded and centre-cropped by edgevision's own
    loader: the original model is judged on exactly the pixels the converter compares it on."""
    from edgevision.data.loader import load_pixels
    from edgevision.model.spec import PreprocessSpec

    spec = PreprocessSpec(width=SIZE, height=SIZE, crop="center")
    classes = sorted(p.name for p in (data / split).iterdir() if p.is_dir())
    xs, ys, files = [], [], []
    for i, c in enumerate(classes):
        for f in sorted((data / split / c).iterdir()):
            img, ok = load_pixels(str(f), spec)
            if ok:
                xs.append(img)
                ys.append(i)
                files.append(str(f))
    x = ((np.stack(xs).astype(np.float32) - MEAN) / STD).transpose(0, 3, 1, 2)
    return x, np.asarray(ys), classes, files


def build(data: Path, out: Path, epochs: int = 15) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y, classes, _ = _load(data, "train")

    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, len(classes)))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    net.eval()
    out.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(net, (example,), str(out / "net.onnx"), input_names=["input"], output_names=["logits"],
                      dynamo=False)
    torch.onnx.export(net, (example,), str(out / "net_dynamic.onnx"), input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {2: "h", 3: "w"}}, dynamo=False)
    torch.export.save(torch.export.export(net, (example,)), str(out / "net.pt2"))

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.net(a) + self.net(b)

    class Heads(Two):
        def forward(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
            y = self.net(a)
            return y, y[:, :4]

    torch.onnx.export(Two().eval(), (example, example), str(out / "two_inputs.onnx"), dynamo=False)
    torch.onnx.export(Heads().eval(), (example,), str(out / "two_outputs.onnx"), dynamo=False)
    (out / "labels.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    net.eval()  # exporting the wrappers (built in training mode) put net back in training mode on the way out
    xs, _, _, files = _load(data, "test")
    with torch.no_grad():
        top1 = net(torch.from_numpy(xs)).argmax(-1).tolist()
    (out / "torch_top1.json").write_text(json.dumps(dict(zip(files, top1, strict=True))), encoding="utf-8")


def latency_ms(path: Path, runs: int = 50) -> float:
    """Median single-image latency of the original model in its own runtime (onnxruntime or PyTorch)."""
    import time

    x = np.zeros((1, 3, SIZE, SIZE), np.float32)
    if path.suffix == ".onnx":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def once() -> None:
            sess.run(None, {name: x})
    else:
        import torch

        module, t = torch.export.load(str(path)).module(), torch.from_numpy(x)

        def once() -> None:
            with torch.no_grad():
                module(t)
    for _ in range(5):
        once()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


if __name__ == "__main__":
    if sys.argv[1] == "--latency":
        print(json.dumps({"ms": latency_ms(Path(sys.argv[2]))}))
    else:
        build(Path(sys.argv[1]), Path(sys.argv[2]))
