"""What training reports while it runs: the recorder that commits each epoch, and the live progress bar.

The recorder writes every completed epoch to the run folder (``rundir.RunDir.commit``),
to TensorBoard and, as one line, to the log; it also stops early. Each epoch's entry has, besides
the metrics, how fast training and its input went (``RATES``; ``data/meter.py`` says how the input
is timed): ``images_per_second`` over the training loop (validation excluded),
``input_images_per_second`` the input could deliver, and ``input_wait``, the share of the loop
spent waiting for it (near 0: the model is the bottleneck; near 1: the input is). The progress bar
redraws one terminal line during an epoch (steps, images per second, time left) and
clears it when the epoch ends, so the epoch's line takes its place: a terminal shows
live progress, and a log file or pipe only the epoch lines.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from ..keras_side.saving import save_model
from .data.meter import InputMeter
from .rundir import RunDir
from .tensorboard import backfill, scalar_writer, write_epoch

Log = Callable[[str], Any]
RATES = ("images_per_second", "input_images_per_second", "input_wait")
TIMING = ("seconds", *RATES)
"""An entry's keys that time the epoch: they differ between two runs that are otherwise the same."""


GAP_HINT = (
    "the network does much worse on the validation data than on the training data: it may have memorised the "
    "training data (more data, augmentation, weight decay or fewer epochs help), or the validation data may differ "
    "from the training data (labels, class order, preprocessing: run.json shows both plans)"
)


def _better(mode: str, min_delta: float) -> Callable[[float, float | None], bool]:
    if mode == "max":
        return lambda value, best: best is None or value > best + min_delta
    return lambda value, best: best is None or value < best - min_delta


def format_epoch(entry: Mapping[str, Any], epochs: int) -> str:
    """``epoch 2/5  loss 0.1234 ...  learning_rate 0.001  3.2s  612 img/s (input 4,321 img/s, waited 1%)``."""
    parts = [f"epoch {entry['epoch']}/{epochs}"]
    for key, value in entry.items():
        if key in ("epoch", *TIMING):
            continue
        parts.append(f"{key} {value:.4g}" if key == "learning_rate" else f"{key} {value:.4f}")
    parts.append(f"{entry['seconds']:.1f}s")
    if "images_per_second" in entry:
        parts.append(
            f"{entry['images_per_second']:,.0f} img/s (input {entry['input_images_per_second']:,.0f} img/s, "
            f"waited {entry['input_wait']:.0%})"
        )
    return "  ".join(parts)


GAP_SHARE, GAP_MIN = 0.5, 0.2
"""A validation accuracy is far below its training accuracy when it is less than GAP_SHARE of it and GAP_MIN or more
lower (0.97 against 0.32 is; 0.99 against 0.75, ordinary overfitting, is not)."""


def accuracy_gaps(entry: Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """(metric, training value, validation value) for each accuracy of an epoch's entry whose validation value, measured
    in inference mode, is far below the value measured while training."""
    out = []
    for key, value in entry.items():
        val = entry.get(f"val_{key}")
        if (
            key.endswith("accuracy")
            and not key.startswith("val_")
            and isinstance(val, float)
            and val < GAP_SHARE * value
            and value - val >= GAP_MIN
        ):
            out.append((key, value, val))
    return out


def gap_warning(gaps: list[tuple[str, float, float]], hint: str) -> str:
    which = "; ".join(f"val_{key} {val:.4f} against {key} {value:.4f}" for key, value, val in gaps)
    return f"warning: validation accuracy far below training accuracy ({which}): {hint}"


def recorder(
    files: RunDir,
    state: dict[str, Any] | None,
    *,
    epochs: int,
    monitor: str,
    mode: str,
    min_delta: float,
    patience: int | None,
    log: Log | None,
    chief: bool,
    meter: InputMeter | None = None,
    settle: Callable[[], Any] | None = None,
    gap_hint: str = "",
    note: str = "",
) -> Any:
    """The callback that commits each epoch. `settle` runs once per epoch when its training loop ends, before
    validation and the checkpoint (``precise_bn``), outside the loop's timing; `gap_hint` says what a validation
    accuracy far below the training accuracy likely means in this run (``accuracy_gaps``), printed the first time;
    `note` ends each epoch line (how the steps ran: ``execution.py``)."""
    from ..keras_side.bases import Callback

    better = _better(mode, min_delta)

    class Recorder(Callback):
        """Commits each completed epoch to the run folder; early stopping from the recorded history."""

        def __init__(self) -> None:
            super().__init__()
            self.history: list[dict[str, Any]] = list(state["history"]) if state else []
            self.best: dict[str, Any] | None = state.get("best") if state else None
            self.seconds = float(state.get("seconds", 0.0)) if state else 0.0
            self.stopped = False
            self.write_scalar = scalar_writer(files.tensorboard) if chief else None
            if self.write_scalar is not None and self.history:  # epochs a kill kept out of TensorBoard
                backfill(files.tensorboard, self.history, self.write_scalar)
            self._t0 = 0.0
            self._loop: tuple[float, Any] | None = (
                None  # when the epoch's training loop ended, and the meter's mark then
            )
            self._meter0: Any = None
            self._settled = False
            self._gap_said = False
            self._rate: float | None = None

        def _loop_ended(self) -> None:
            if self._loop is None and meter is not None:
                self._loop = (time.perf_counter(), meter.read())
            if settle is not None and not self._settled:
                self._settled = True
                settle()

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0 = time.perf_counter()
            self._loop = None
            self._settled = False
            self._meter0 = meter.read() if meter is not None else None
            self._rate = None if _scheduled(self.model.optimizer) else _learning_rate(self.model.optimizer)

        def on_test_begin(self, logs: Any = None) -> None:  # validation: the epoch's training loop is over
            self._loop_ended()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self._loop_ended()
            seconds = time.perf_counter() - self._t0
            entry: dict[str, Any] = {"epoch": epoch + 1}
            logs = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            order = sorted(logs, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss"))
            entry.update((k, logs[k]) for k in order)
            # a rate a callback moves (reduce_on_plateau, run before this one so the checkpoint holds the next
            # epoch's) is the epoch's own
            rate = self._rate if self._rate is not None else _learning_rate(self.model.optimizer)
            entry["learning_rate"] = float(f"{rate:.7g}")
            entry["seconds"] = round(seconds, 3)
            if self._loop is not None and self._meter0 is not None and meter is not None:
                entry.update(meter.rates(self._meter0, self._loop[1], self._loop[0] - self._t0))
            value = entry.get(monitor)
            best = self.best
            if value is not None and better(value, None if best is None else best["value"]):
                best = {"epoch": epoch + 1, "monitor": monitor, "value": value}
            stop = bool(patience and best and epoch + 1 - best["epoch"] >= patience and epoch + 1 < epochs)
            new_state: dict[str, Any] = {
                "epoch": epoch + 1,
                "epochs": epochs,
                "history": [*self.history, entry],
                "best": best,
                "stopped_early": stop,
                "finished": False,
                "seconds": round(self.seconds + seconds, 3),
            }
            files.commit(new_state, lambda path: save_model(self.model, path, force=True))
            self.history, self.best, self.seconds = new_state["history"], best, new_state["seconds"]
            if stop:
                self.stopped = True
                self.model.stop_training = True
            if log is not None:
                gaps = accuracy_gaps(entry)
                log(
                    format_epoch(entry, epochs)
                    + (f"  [{note}]" if note else "")
                    + ("  (best)" if best and best["epoch"] == epoch + 1 else "")
                    + ("  (validation far below training)" if gaps else "")
                )
                if gaps and not self._gap_said:
                    self._gap_said = True
                    log(gap_warning(gaps, gap_hint or GAP_HINT))
                if stop and best is not None:
                    log(
                        f"early stopping: {monitor} has not improved for {patience} epochs (best {best['value']:.4f} "
                        f"at epoch {best['epoch']})"
                    )
            if self.write_scalar is not None:
                write_epoch(self.write_scalar, entry)

    return Recorder()


def _scheduled(optimizer: Any) -> bool:
    from ..keras_side.custom import EpochSchedule

    return isinstance(getattr(getattr(optimizer, "inner_optimizer", optimizer), "_learning_rate", None), EpochSchedule)


def _learning_rate(optimizer: Any) -> float:
    import numpy as np

    from ..keras_side.custom import EpochSchedule

    inner = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = getattr(inner, "_learning_rate", None)
    if isinstance(schedule, EpochSchedule):
        # the schedule's step is every batch's, also under gradient accumulation (where `iterations` counts updates)
        return schedule.value_at(max(int(np.asarray(getattr(inner, "_iterations", inner.iterations))) - 1, 0))
    return float(np.asarray(inner.learning_rate))


def progress(
    *, steps: int, batch_size: int, count: int, epochs: int, stream: TextIO | None = None, interval: float = 0.1
) -> Any:
    """A Keras callback drawing ``epoch 3/10 [=====.....] 120/469  2,345 img/s  ETA 0:12  loss 0.1234`` on one line."""
    from ..keras_side.bases import Callback

    out = stream or sys.stdout

    class Progress(Callback):
        async_safe = (
            True  # Keras may call on_train_batch_end from a worker thread: drawing is locked, steps only move forward
        )

        def __init__(self) -> None:
            super().__init__()
            self._lock = threading.Lock()
            self._epoch = self._shown = self._width = 0
            self._t0 = self._drawn = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._epoch, self._shown, self._t0, self._drawn = epoch, 0, time.perf_counter(), 0.0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            done, now = batch + 1, time.perf_counter()
            with self._lock:
                if done <= self._shown or (done < steps and now - self._drawn < interval):
                    return
                self._shown, self._drawn = done, now
                self._draw(
                    progress_line(
                        self._epoch + 1, epochs, done, steps, min(done * batch_size, count), now - self._t0, logs
                    )
                )

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            with self._lock:
                self._draw("")  # the recorder's epoch line takes its place

        def _draw(self, text: str) -> None:
            out.write("\r" + text.ljust(self._width) + ("" if text else "\r"))
            out.flush()
            self._width = len(text)

    return Progress()


def progress_line(
    epoch: int, epochs: int, done: int, steps: int, images: int, seconds: float, logs: Mapping[str, Any] | None
) -> str:
    width = 24
    filled = round(width * done / steps) if steps else width
    rate = images / seconds if seconds > 0 else 0.0
    left = round((steps - done) * seconds / done) if done else 0
    eta = f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}" if left >= 3600 else f"{left // 60}:{left % 60:02d}"
    text = (
        f"epoch {epoch}/{epochs} [{'=' * filled}{'.' * (width - filled)}] {done}/{steps}  {rate:,.0f} img/s  ETA {eta}"
    )
    loss = (logs or {}).get("loss")
    return text + (f"  loss {float(loss):.4f}" if loss is not None else "")
