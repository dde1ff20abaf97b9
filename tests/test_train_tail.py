"""No dead time after a run's last epoch (issue 29): every tf.data pipeline a run, an evaluation or a batch-norm
recalibration iterates runs without tf.data's autotuning thread.

Deleting an iterator waits for that thread, and on TensorFlow 2.21 the thread finishes its sleep (intervals that double
up to a minute) before it notices: `fit` returned 0-20 s after the last epoch line (gdb: the main thread in
``RootDataset::Iterator::~Iterator``, the thread in ``Model::OptimizeLoop``'s timed wait). The time itself is
bench/train_tail.py's to measure; these tests pin the cause's absence, pipeline by pipeline, as `fit` and the
evaluation receive them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

from archspec.spec.loading import load
from archspec.spec.training import Augment, Data
from archspec.training import data as D
from archspec.training import heads
from archspec.training.data import sources


def untuned(dataset: Any) -> bool:
    return dataset.options().autotune.enabled is False


def test_the_classic_pipelines_run_without_the_autotuning_thread() -> None:
    images = D.from_arrays(np.zeros((12, 8, 8, 1), np.uint8), np.arange(12) % 2, "arrays")
    plan = D.plan(images, (8, 8, 1), 2, Data())
    source = D.TrainingInput(images, plan, batch_size=4, seed=1, aug=Augment(flip="horizontal"))
    first = source.dataset(0, 2)  # the first epoch fills the cache
    for _ in first:
        pass
    assert source.filled()
    pipelines = {
        "training (filling the cache)": first,
        "training (from the cache)": source.dataset(2, 3),
        "batch-norm recalibration": source.calibration(2),
        "validation and evaluate": D.eval_dataset(images, plan, batch_size=4),
    }
    assert [name for name, ds in pipelines.items() if not untuned(ds)] == []


def test_the_named_pipelines_run_without_the_autotuning_thread(tmp_path: Path) -> None:
    spec = load(ROOT / "specs" / "unet_digits.yaml")
    net = heads.network(spec, spec.training)
    npz = tmp_path / "canvases.npz"
    np.savez(npz, input=np.zeros((6, 64, 64), np.uint8), classes=np.full((6, 64, 64), 10, np.uint8))
    prepared = D.prepare(D.load_examples(str(npz), net), net, Data())
    source = D.ExamplesInput(prepared, net, batch_size=4, seed=1, aug=Augment())
    pipelines = {
        "training": source.dataset(0, 1),
        "batch-norm recalibration": source.calibration(2),
        "validation and evaluate": D.examples_eval_dataset(prepared, net, batch_size=4),
    }
    assert [name for name, ds in pipelines.items() if not untuned(ds)] == []


def test_reading_a_folders_image_sizes_runs_without_the_autotuning_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    png = tmp_path / "a.png"
    png.write_bytes(tf.io.encode_png(np.zeros((5, 7, 1), np.uint8)).numpy())
    seen: list[Any] = []
    iterate = tf.data.Dataset.__iter__
    monkeypatch.setattr(tf.data.Dataset, "__iter__", lambda ds: seen.append(ds) or iterate(ds))
    assert sources._shapes([str(png)]).tolist() == [[5, 7, 1]]
    assert seen and all(untuned(ds) for ds in seen)
