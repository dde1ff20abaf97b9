"""Writing output files: atomically, durably, and with errors a person can act on.

Everything archspec writes goes through ``atomic_path``: the writer fills a
temporary beside the target (``.NAME.PID.tmp.SUFFIX``), which is flushed to
the disk (fsync), renamed into place (an atomic step on POSIX), and then the
folder is flushed too, so the rename itself survives a power cut. A crash
therefore never leaves a half-written file under the target's name, and a
file that was reported written is on the disk.

- An existing target is kept unless the caller forces it.
- A writer killed mid-write leaves its temporary behind. The next write into
  that folder removes the temporaries of writers that are gone (their PID is
  no longer alive): a killed ``build`` does not leave hundreds of MB for ever.
- A write that fails for want of space, a read-only file system, permissions
  or quota is a ``WriteError`` (an ``OutputError``, not a ``SpecError``: the
  input was fine; the CLI prints it, exit 74) naming the file and what failed
  ("disk full" for ENOSPC); its temporary is removed, so nothing half-written remains.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from .errors import ArchspecError, OutputError, Problem, SpecError

# Each kind of failed write: what happened, in words, and what a person can do about it. Other OS errors are not
# the disk's doing and pass unchanged.
REFUSED: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("disk full, no space left on device", "free space"),
    errno.EDQUOT: ("disk quota exceeded", "free space or raise the quota"),
    errno.EFBIG: ("file too large", "raise the file-size limit"),
    errno.EROFS: ("read-only file system", "make the file system writable"),
    errno.EACCES: ("permission denied", "make the folder writable"),
    errno.EPERM: ("operation not permitted", "make the folder writable"),
}
# The temporaries atomic_path and new_folder make: .NAME.PID.tmp[.SUFFIX], and .NAME.PID.old while a folder is swapped.
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.(?:tmp(?:\..*)?|old)$")
_swept: set[Path] = set()


class WriteError(OutputError):
    """A file could not be written (no space, read-only, permissions, quota); nothing half-written is left."""

    def __init__(self, target: Path, reason: str, remedy: str, problem: Problem | None = None) -> None:
        self.target, self.reason, self.remedy = Path(target), reason, remedy
        super().__init__(
            problem
            or Problem(
                f"cannot write: {reason} (nothing half-written is left)",
                file=str(target),
                hint=f"{remedy} and run the command again",
            )
        )


def write_error(target: Path, exc: BaseException, *, by_text: bool = False) -> WriteError | None:
    """`exc` as a WriteError about `target` when the disk refused the write (anywhere in its chain), else None.

    ``by_text``: also recognise the OS's words in the message, for writers (TensorFlow's) that carry no errno."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in REFUSED:
            return WriteError(target, *REFUSED[error.errno])
        error = error.__cause__ or error.__context__
    if by_text:
        for code, refused in REFUSED.items():
            if os.strerror(code).lower() in str(exc).lower():
                return WriteError(target, *refused)
    return None


@contextlib.contextmanager
def translated(target: Path) -> Iterator[None]:
    """Inside the block, a write the disk refused becomes a WriteError naming `target`."""
    try:
        yield
    except ArchspecError:  # ours already (a WriteError keeps its OSError as context: it must not be wrapped again)
        raise
    except Exception as exc:
        error = write_error(target, exc)
        if error is None:
            raise
        raise error from None


def refuse_existing(path: str | os.PathLike[str], force: bool) -> None:
    """The one "exists, pass --force" rule, checked before any slow work starts."""
    target = Path(path)
    if target.exists() and not force:
        raise SpecError(
            Problem(f"{target} exists", file=str(target), hint="pass --force (Python: force=True) to overwrite")
        )


def temporary_name(target: Path) -> Path:
    """This process's temporary for `target`: hidden, beside it, keeping its suffix (some writers,
    Keras', insist on it)."""
    return target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces `path` (flushed to the disk), on failure
    it disappears."""
    target = Path(path)
    refuse_existing(target, force)
    tmp = temporary_name(target)
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    try:
        with translated(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            sweep(target.parent)
            _remove(tmp)
            yield tmp
            fsync(tmp)
            if tmp.is_dir() and target.exists():  # a folder (SavedModel) cannot be renamed over another
                os.replace(target, old)
            rename(tmp, target)
    finally:
        _remove(tmp)
        _remove(old)


def rename(tmp: Path, target: Path) -> None:
    """The commit point of every write: `tmp` becomes `target`, and the folder's new entry is flushed to the disk."""
    os.replace(tmp, target)
    fsync_folder(target.parent)


def new_folder(target: Path) -> Path:
    """An empty temporary folder beside `target`, to be filled and then published with ``publish_folder``."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with translated(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep(target.parent)
        _remove(tmp)
        tmp.mkdir()
    return tmp


def publish_folder(tmp: Path, target: Path) -> bool:
    """Rename the filled folder `tmp` to `target` in one step; False (and nothing done) when `target` exists and is
    not empty. An empty folder there is replaced: "exists and is not empty" is decided once, by the rename itself."""
    try:
        with translated(target):
            os.rename(tmp, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            return False
        if exc.errno == errno.EBUSY:
            raise SpecError(
                Problem(
                    f"{target} cannot be replaced (a mount point, or in use)",
                    file=str(target),
                    hint="give a new folder inside it",
                )
            ) from None
        raise
    fsync_folder(target.parent)
    return True


def fsync(path: Path) -> None:
    """Flush a written file, or every file and folder of a written folder, to the disk."""
    if path.is_dir():
        for folder, _, names in os.walk(path, topdown=False):
            for name in names:
                _fsync_one(Path(folder, name))
            fsync_folder(Path(folder))
    else:
        _fsync_one(path)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk; file systems that cannot do it are left be."""
    try:
        _fsync_one(folder)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EISDIR):
            raise


def _fsync_one(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep(folder: Path) -> None:
    """Once per process and folder: remove the temporaries that writers killed mid-write left there."""
    key = folder.resolve()
    if key not in _swept:
        remove_stale(folder)
        _swept.add(key)


def remove_stale(folder: Path, *, every: bool = False) -> list[Path]:
    """Remove the temporaries in `folder` whose writer is gone (its PID is no longer alive); `every`: all of them,
    for a caller that knows no writer is live there (a run folder under its lock). Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match and (every or not _alive(int(match.group(1)))):
            _remove(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    except (OverflowError, ValueError):
        return False
    return True


def write_text(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    """Write text atomically; an existing file is kept unless ``force``."""
    with atomic_path(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    """Write bytes atomically; an existing file is kept unless ``force``."""
    with atomic_path(path, force=force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
