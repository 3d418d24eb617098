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
    import cv2

    classes = sorted(p.name for p in (data / split).iterdir() if p.is_dir())
    xs, ys, files = [], [], []
    for i, c in enumerate(classes):
        for f in sorted((data / split / c).iterdir()):
            bgr = cv2.imread(str(f))
            if bgr is None:
                continue
            h, w = bgr.shape[:2]
            s = min(h, w)  # centre square crop, then bilinear resize: edgevision's "center" crop
            y0, x0 = (h - s) // 2, (w - s) // 2
            rgb = cv2.cvtColor(bgr[y0:y0 + s, x0:x0 + s], cv2.COLOR_BGR2RGB)
            xs.append(cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR))
            ys.append(i)
            files.append(str(f))
    x = ((np.stack(xs).astype(np.float32) - MEAN) / STD).transpose(0, 3, 1, 2)  # NCHW, ImageNet-normalized
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

    torch.onnx.export(Two(), (example, example), str(out / "two_inputs.onnx"), dynamo=False)
    torch.onnx.export(Heads(), (example,), str(out / "two_outputs.onnx"), dynamo=False)
    (out / "labels.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    xs, _, _, files = _load(data, "test")
    with torch.no_grad():
        top1 = net(torch.from_numpy(xs)).argmax(-1).tolist()
    (out / "torch_top1.json").write_text(json.dumps(dict(zip(files, top1, strict=True))), encoding="utf-8")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
