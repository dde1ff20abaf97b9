"""A run's TensorBoard scalars, kept whole across kills: written per epoch, and rebuilt from the history on resume.

An epoch's scalars are written after the epoch is committed (``rundir.RunDir.commit``),
so a kill between the two would lose them for good. A resumed run therefore reads
the event files back and writes every (split, tag, epoch) of ``history.json`` that
they lack, once. The scalars go through TensorFlow's own summary ops: no
``tensorboard`` package is needed to write or read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..files import write_error

Write = Callable[[str, str, float, int], None]


def scalar_writer(root: Path) -> Write:
    """``write(split, tag, value, step)``; a write the disk refuses is a WriteError naming the split's folder."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    writers: dict[str, Any] = {}

    def write(split: str, tag: str, value: float, step: int) -> None:
        try:
            if split not in writers:
                writers[split] = tf.summary.create_file_writer(str(root / split))
            with writers[split].as_default():
                tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=meta)
            writers[split].flush()
        except tf.errors.OpError as exc:  # TensorFlow reports a full disk in words, without an errno
            error = write_error(root / split, exc, by_text=True)
            if error is None:
                raise
            raise error from None

    return write


def epoch_scalars(entry: Mapping[str, Any]) -> Iterator[tuple[str, str, float]]:
    """(split, tag, value) of one history row: ``val_loss`` is validation's ``epoch_loss``."""
    for key, value in entry.items():
        if key in ("epoch", "seconds"):
            continue
        split, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        yield split, f"epoch_{tag}", value


def write_epoch(write: Write, entry: Mapping[str, Any]) -> None:
    for split, tag, value in epoch_scalars(entry):
        write(split, tag, value, int(entry["epoch"]))


def logged(root: Path) -> Counter[tuple[str, str, int]]:
    """How often each (split, tag, step) is in the event files under `root`; a record cut short by a kill ends its
    file."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    found: Counter[tuple[str, str, int]] = Counter()
    for path in sorted(root.glob("*/events.out.tfevents.*")):
        try:
            for record in tf.data.TFRecordDataset(str(path)):
                event = event_pb2.Event.FromString(record.numpy())
                for value in event.summary.value:
                    found[(path.parent.name, value.tag, int(event.step))] += 1
        except tf.errors.DataLossError:
            continue
    return found


def backfill(root: Path, history: Sequence[Mapping[str, Any]], write: Write) -> int:
    """Write the scalars of `history` that the event files lack; returns how many were written."""
    have = logged(root)
    missing = [
        (split, tag, value, int(entry["epoch"]))
        for entry in history
        for split, tag, value in epoch_scalars(entry)
        if (split, tag, int(entry["epoch"])) not in have
    ]
    for split, tag, value, step in missing:
        write(split, tag, value, step)
    return len(missing)
