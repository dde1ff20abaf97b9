"""Where training runs: the tf.distribute strategy, which task is the chief, and the fixes distributed Keras needs.

The strategy and precision names are checked before TensorFlow is imported; the
strategy itself is made before any other TensorFlow work (multi-worker needs that).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, SpecError, closest

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
PRECISIONS = ("mixed_float16", "mixed_bfloat16")


@dataclass
class Env:
    strategy: Any
    name: str
    replicas: int
    chief: bool
    workers: int = 1


def tf_config() -> dict[str, Any]:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise SpecError(
            Problem(
                "--strategy multi-worker needs the TF_CONFIG environment variable",
                file="TF_CONFIG",
                hint='e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\'',
            )
        )
    try:
        cfg: dict[str, Any] = json.loads(raw)
        cluster, task = cfg["cluster"], cfg["task"]
        kind, index = task["type"], int(task["index"])
        if kind not in cluster or not 0 <= index < len(cluster[kind]):
            raise ValueError(f"task {kind}:{index} is not in the cluster")
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecError(
            Problem(
                f"TF_CONFIG is not a valid cluster description: {exc}",
                file="TF_CONFIG",
                hint='needs {"cluster": {"worker": [...]}, "task": {"type": "worker", "index": N}}',
            )
        ) from None
    return cfg


def is_chief(cfg: Mapping[str, Any]) -> bool:
    """The task that writes the run folder: the chief, or worker 0 when the cluster has no chief."""
    task, cluster = cfg["task"], cfg["cluster"]
    return task["type"] == "chief" or (task["type"] == "worker" and int(task["index"]) == 0 and "chief" not in cluster)


def check_options(strategy: str, precision: str | None) -> None:
    """The strategy and precision names, before TensorFlow is imported."""
    if strategy not in STRATEGIES:
        near = closest(strategy, STRATEGIES)
        raise SpecError(
            Problem(
                f"unknown strategy {strategy!r}",
                file="--strategy",
                hint=f"did you mean {near!r}?" if near else "one of " + ", ".join(STRATEGIES),
            )
        )
    if precision not in (None, "float32", *PRECISIONS):
        near = closest(str(precision), PRECISIONS)
        raise SpecError(
            Problem(
                f"unknown precision {precision!r}",
                file="--precision",
                hint=f"did you mean {near!r}?" if near else "one of " + ", ".join(PRECISIONS),
            )
        )
    if strategy == "multi-worker":
        tf_config()


def make_env(strategy: str) -> Env:
    """The tf.distribute strategy. Called before any other TensorFlow work (multi-worker needs that)."""
    import tensorflow as tf

    if strategy == "multi-worker":
        cfg = tf_config()
        try:
            strat = tf.distribute.MultiWorkerMirroredStrategy()
        except (RuntimeError, ValueError) as exc:
            raise SpecError(
                Problem(
                    f"cannot start multi-worker training: {exc}",
                    file="TF_CONFIG",
                    hint="start it before any other TensorFlow work, one process per TF_CONFIG task",
                )
            ) from None
        workers = sum(len(v) for k, v in cfg["cluster"].items() if k in ("chief", "worker"))
        return Env(strat, "multi-worker", strat.num_replicas_in_sync, is_chief(cfg), workers)
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "auto":
        strategy = "mirrored" if len(gpus) > 1 else "default"
    if strategy == "mirrored":
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strat = tf.distribute.MirroredStrategy(devices=devices)
        return Env(strat, "mirrored", strat.num_replicas_in_sync, True)
    if strategy == "one-device":
        device = gpus[0].name if gpus else "/cpu:0"
        return Env(tf.distribute.OneDeviceStrategy(device), "one-device", 1, True)
    return Env(tf.distribute.get_strategy(), "default", 1, True)


def prebuild(model: Any, data_batch: tuple[Any, Any]) -> None:
    """Build a distributed model's compiled state from shapes alone, before fit.

    Keras otherwise builds it from the first batch of the distributed iterator: that batch is then
    skipped by training, and under MultiWorkerMirroredStrategy reducing it fails (a nested
    all-reduce the collective strategy does not support)."""
    build = getattr(model, "_symbolic_build", None)
    if build is None or not hasattr(model, "_maybe_symbolic_build"):
        return
    build(data_batch=data_batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def rank1_logs(model: Any) -> None:
    """Under MultiWorkerMirroredStrategy, Keras 3 reduces each step's logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on the scalar losses and metrics
    (tensorflow/tensorflow#72388). Returning them as shape-[1] tensors makes that reduction the mean
    over workers it was meant to be; the logs reaching callbacks are scalars again."""
    import tensorflow as tf

    for name in ("train_step", "test_step"):
        step = getattr(model, name)

        def wrapped(data: Any, _step: Any = step) -> Any:
            logs = _step(data)
            return {k: tf.reshape(v, [1]) for k, v in logs.items()} if isinstance(logs, dict) else logs

        setattr(model, name, wrapped)


def default_seed(strategy: str) -> int:
    """A fresh seed; under multi-worker, one every worker agrees on (from the cluster description)."""
    if strategy == "multi-worker":
        cluster = json.dumps(json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}), sort_keys=True)
        return zlib.crc32(cluster.encode()) & 0x7FFFFFFF
    return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
