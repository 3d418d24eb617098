"""[TF] Training on more than one device or machine with tf.distribute.

``mirrored`` copies the model onto every local GPU (or every logical CPU device) and
averages gradients; ``multiworker`` does the same across machines described by the
``TF_CONFIG`` environment variable. The recipe's batch size is the GLOBAL batch: each of
N replicas computes batch_size / N, so a recipe gives the same optimisation on any
number of devices.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from edgevision.errors import BadInput

STRATEGIES = ("default", "mirrored", "multiworker")


@dataclass(frozen=True)
class Distribution:
    name: str
    strategy: Any
    replicas: int
    workers: int = 1
    worker_index: int = 0       # this machine's position among the workers (data shard index)

    @property
    def is_chief(self) -> bool:
        """The one worker whose files (checkpoints, model, reports) are the run's."""
        return self.worker_index == 0

    def shard(self) -> tuple[int, int] | None:
        return (self.workers, self.worker_index) if self.workers > 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers}


def _cluster() -> tuple[int, int]:
    """(number of workers, this worker's index) from TF_CONFIG; the chief, if listed, is index 0."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise BadInput("--strategy multiworker needs the TF_CONFIG environment variable (see the README: "
                       "'Training on more than one machine')")
    try:
        cfg = json.loads(raw)
        cluster, task = cfg["cluster"], cfg["task"]
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        kind, index = task["type"], int(task["index"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"TF_CONFIG is malformed ({exc}); expected "
                       '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}') from None
    if kind not in ("chief", "worker"):
        raise BadInput(f"TF_CONFIG task type {kind!r}: only chief and worker tasks train")
    position = index if kind == "chief" else len(chiefs) + index
    return len(chiefs) + len(workers), position


def is_chief(name: str) -> bool:
    """Whether this process writes the run's files; answered from TF_CONFIG, before TensorFlow loads."""
    if name not in STRATEGIES:
        raise BadInput(f"--strategy {name}: choose from {', '.join(STRATEGIES)}")
    return name != "multiworker" or _cluster()[1] == 0


def make_distribution(name: str = "default") -> Distribution:
    import tensorflow as tf

    if name not in STRATEGIES:
        raise BadInput(f"--strategy {name}: choose from {', '.join(STRATEGIES)}")
    if name == "default":
        return Distribution(name, tf.distribute.get_strategy(), 1)
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        return Distribution(name, strategy, int(strategy.num_replicas_in_sync))
    workers, index = _cluster()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    return Distribution(name, strategy, int(strategy.num_replicas_in_sync), workers, index)
