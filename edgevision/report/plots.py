"""PNG plots a person would rather look at than read (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: Mapping[str, Sequence[float]], path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=(prefix or "train_").rstrip("_"))
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion(cm: Sequence[Sequence[int]], classes: Sequence[str], path: Path, title: str) -> Path:
    plt = _pyplot()
    m = np.asarray(cm)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 30:
        hi = m.max() if m.size else 0
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if m[i, j] > hi / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def accuracy_bars(variants: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    plt = _pyplot()
    names = list(variants)
    acc = [variants[n]["accuracy"] for n in names]
    size = [variants[n]["size_bytes"] / 1024 for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    bars = axes[0].bar(names, acc, color="#4c78a8")
    axes[0].set_ylim(max(0.0, min(acc) - 0.1), 1.0)
    axes[0].set_title("held-out accuracy (device runtime)")
    axes[0].bar_label(bars, labels=[f"{a:.3f}" for a in acc])
    bars = axes[1].bar(names, size, color="#f58518")
    axes[1].set_title("model size (KiB)")
    axes[1].bar_label(bars, labels=[f"{s:.0f}" for s in size])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_hist(samples: Mapping[str, Sequence[float]], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, values in samples.items():
        a = np.asarray(values)
        hi = np.percentile(a, 99.5)
        ax.hist(a[a <= hi], bins=40, alpha=0.6, label=f"{name} (p50 {np.median(a):.3f} ms)")
    ax.set_xlabel("invoke() latency, ms")
    ax.set_ylabel("runs")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
