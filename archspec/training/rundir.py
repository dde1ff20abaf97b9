"""A run directory and its crash-safe bookkeeping (no TensorFlow here).

Layout of ``runs/<name>-<YYYYmmdd-HHMMSS>/``::

    spec.yaml            the spec with the resolved training section (re-runnable as is)
    run.json             data sources, strategy, precision, seed, class names, preprocessing
    state.json           the commit record: last completed epoch, its checkpoint, the history
    checkpoints/
      epoch-NNNN.keras   the checkpoint state.json names (model + optimizer state)
      last.keras         the last completed epoch (a hard link to the above)
      best.keras         the best epoch by the monitored quantity
    history.json, history.csv   one row per completed epoch
    metrics.json         final figures, written when the run ends
    model.keras          the final model, for inference (no optimizer state), written when the run ends
    tensorboard/         TensorBoard event files (train/, validation/)
    transfer.json        what --weights transferred (a run that started from trained weights)
    .lock                the run's lock: the PID of the process training it

One process at a time: a run holds an exclusive OS lock (``fcntl.flock``) on
``.lock`` from the moment its folder exists to its last write, so a second
``train`` or ``--resume`` on the folder is refused, naming the holder's PID,
and a killed process (even by SIGKILL) releases it with its file handles. A
new folder is filled with ``spec.yaml`` and ``run.json`` under a hidden
temporary name, locked, and only then renamed into place: a run killed before
that leaves no folder, only a temporary that the next run into the same parent
removes, and "the folder exists and is not empty" is decided by that one rename.

Every file is written to a temporary name beside its target, flushed to the
disk and renamed into place (``files.atomic_path``), so a reader never sees half
a file and a committed epoch survives a power cut. An epoch counts as
completed when ``state.json`` names it: the epoch's checkpoint is saved first
(under a name of its own), then ``state.json`` is replaced, then the derived
files (``last.keras``, ``best.keras``, history) are brought up to date. A run
killed at any moment — even with SIGKILL — therefore resumes from the last
epoch ``state.json`` records, with that epoch's model and optimizer state, and
``repair`` redoes whatever derived step the kill interrupted; history rows of
an epoch that never completed are never written, so every epoch appears once.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..files import WriteError, atomic_path, new_folder, publish_folder, remove_stale, translated, write_text

STATE_VERSION = 1


def atomic_write_text(path: Path, text: str) -> Path:
    return write_text(path, text, force=True)


def atomic_write_json(path: Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def atomic_link(source: Path, target: Path) -> None:
    """`target` becomes the same file as `source` (a hard link, or a copy where links are not possible)."""
    with atomic_path(target, force=True) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


class RunLock:
    """This process's exclusive hold on a run folder (``fcntl.flock`` on ``.lock``); the OS releases it when the
    process ends, however it ends."""

    NAME = ".lock"

    def __init__(self, folder: Path) -> None:
        path = folder / self.NAME
        with translated(path):
            self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(self._fd)
            self.release()
            raise in_use(folder, pid) from None
        try:  # who holds it, for the refusal a second process prints; the lock holds without it
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @staticmethod
    def holder(folder: Path) -> int | None:
        """The PID of the process holding `folder`'s lock (0 when unknown), or None when no process holds it."""
        try:
            fd = os.open(folder / RunLock.NAME, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            return _pid_in(fd)
        finally:
            os.close(fd)


def _pid_in(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0)
    except (OSError, ValueError):
        return 0


def in_use(folder: Path, pid: int | None) -> SpecError:
    who = f"process {pid}" if pid else "another process"
    return SpecError(
        Problem(
            f"in use: {who} is training in this run folder",
            file=str(folder),
            hint="two runs cannot share a folder: wait for it to finish (or stop it), or pick another --run-dir",
        )
    )


def start_folder(target: Path | None, runs: Path, name: str, fill: Callable[[RunDir], Any]) -> tuple[RunDir, RunLock]:
    """A new run folder, locked, holding what ``fill`` writes (spec.yaml, run.json): filled under a temporary name
    and renamed to `target` (default ``runs/NAME-YYYYmmdd-HHMMSS``, then ``-2``, ``-3``...) only when complete."""
    stamp = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    first = Path(runs) / stamp if target is None else _replaceable(Path(target))
    tmp = new_folder(first)
    lock: RunLock | None = None
    try:
        lock = RunLock(tmp)
        fill(RunDir(tmp))
        for i in range(1, 1000 if target is None else 2):
            root = first if i == 1 else first.with_name(f"{stamp}-{i}")
            if publish_folder(tmp, root):
                return RunDir(root), lock
        if target is not None:
            pid = RunLock.holder(first)
            raise (
                in_use(first, pid)
                if pid is not None
                else SpecError(
                    Problem(
                        f"{first} exists and is not empty",
                        file=str(first),
                        hint="pick a new --run-dir, or continue that run with --resume",
                    )
                )
            )
        raise SpecError(Problem(f"cannot make a run folder under {runs}", file=str(runs)))
    except BaseException as exc:
        if lock is not None:
            lock.release()
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, WriteError) and exc.target.is_relative_to(tmp):  # name the file where it was going
            raise WriteError(first / exc.target.relative_to(tmp), exc.reason, exc.remedy) from None
        raise


def _replaceable(target: Path) -> Path:
    """The folder the rename will put the run in: a symlink's target (the link itself stays), a name for `.` or `..`;
    never the current folder, which the rename would pull from under the shell that started the run."""
    place = target.resolve() if target.is_symlink() or not target.name or target.name == ".." else target
    if place.resolve() == Path.cwd().resolve():
        raise SpecError(
            Problem(
                f"{target} is the current folder; a run folder is made whole and then renamed into place",
                file=str(target),
                hint="give the name of a new folder, e.g. --run-dir run",
            )
        )
    return place


class RunDir:
    """Paths and the commit protocol of one run folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.spec = self.root / "spec.yaml"
        self.run_json = self.root / "run.json"
        self.state_json = self.root / "state.json"
        self.last = self.checkpoints / "last.keras"
        self.best = self.checkpoints / "best.keras"
        self.history_json = self.root / "history.json"
        self.history_csv = self.root / "history.csv"
        self.metrics = self.root / "metrics.json"
        self.model = self.root / "model.keras"
        self.tensorboard = self.root / "tensorboard"
        self.transfer = self.root / "transfer.json"

    def paths(self) -> dict[str, Path]:
        return {
            "run_dir": self.root,
            "model": self.model,
            "best": self.best,
            "last": self.last,
            "spec": self.spec,
            "history_json": self.history_json,
            "history_csv": self.history_csv,
            "metrics": self.metrics,
            "tensorboard": self.tensorboard,
            "state": self.state_json,
            "run_json": self.run_json,
            "transfer": self.transfer,
        }

    @staticmethod
    def open_existing(root: str | os.PathLike[str]) -> RunDir:
        run = RunDir(root)
        if not run.root.is_dir():
            raise SpecError(Problem(f"{root}: no such run folder", file=str(root)))
        if not run.run_json.is_file() or not run.spec.is_file():
            raise SpecError(Problem(f"{root}: not an archspec run folder (no run.json / spec.yaml)", file=str(root)))
        return run

    def read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(Problem(f"{path}: unreadable ({exc})", file=str(path))) from None

    def read_state(self) -> dict[str, Any] | None:
        """The last commit, or None when no epoch has completed."""
        if not self.state_json.is_file():
            return None
        state = self.read_json(self.state_json)
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise SpecError(Problem(f"{self.state_json}: unknown state format", file=str(self.state_json)))
        if not (self.root / state["checkpoint"]).is_file():
            raise SpecError(
                Problem(
                    f"{self.state_json} names {state['checkpoint']}, which is missing",
                    file=str(self.state_json),
                    hint="the run folder was changed by hand; start a new run",
                )
            )
        return state

    def checkpoint_path(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch-{epoch:04d}.keras"

    def commit(self, state: dict[str, Any], save: Callable[[Path], Any]) -> None:
        """Save the epoch's checkpoint, then record it in state.json (the commit), then update derived files."""
        epoch = int(state["epoch"])
        target = self.checkpoint_path(epoch)
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        save(target)
        state = {**state, "version": STATE_VERSION, "checkpoint": str(target.relative_to(self.root))}
        atomic_write_json(self.state_json, state)
        self.derive(state)

    def derive(self, state: dict[str, Any]) -> None:
        """Bring last.keras, best.keras and the history files in line with state.json (idempotent)."""
        checkpoint = self.root / state["checkpoint"]
        atomic_link(checkpoint, self.last)
        best = state.get("best") or {}
        if best.get("epoch") == state["epoch"]:
            atomic_link(checkpoint, self.best)
        history = state.get("history", [])
        atomic_write_json(self.history_json, history)
        atomic_write_text(self.history_csv, history_csv(history))
        for old in self.checkpoints.glob("epoch-*.keras"):
            if old != checkpoint:
                old.unlink(missing_ok=True)

    def repair(self) -> dict[str, Any] | None:
        """After a crash, under the run's lock (so every temporary is stale): drop the temporaries, redo the derived
        step of the last commit. Returns the state."""
        for folder in (self.root, self.checkpoints):
            remove_stale(folder, every=True)
        state = self.read_state()
        if state is not None:
            self.derive(state)
        return state


def history_csv(history: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in history:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()
