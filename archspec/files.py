"""Writing output files atomically: a crash never leaves a half-written model or report.

Everything archspec writes goes to a temporary file beside the target and is
renamed into place (an atomic step on POSIX); an existing target is kept
unless the caller forces it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from .errors import Problem, SpecError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces `path`, on failure it disappears.

    The temporary name keeps the target's suffix, since some writers (Keras) insist on it."""
    target = Path(path)
    if target.exists() and not force:
        raise SpecError(Problem(f"{target} exists", file=str(target), hint="pass --force (Python: force=True) to overwrite"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
