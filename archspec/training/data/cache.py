"""Where the training images wait between epochs, preprocessed: in memory, in a file on disk, or nowhere.

The training input prepares every image once (decoded, channels, size and values: everything
the plan does; augmentation stays per epoch) and keeps the result, float32 at the network's
input size, so that later epochs only gather and augment. Its size is known before it is built
(images x H x W x C x 4 bytes), and placed by this rule:

1. memory, when it takes at most ``MEMORY_SHARE`` of the memory available now (the rest is
   left to the model, TensorFlow and everything else on the machine);
2. otherwise a file on disk in the temporary folder (``TMPDIR``), when the disk has room: read
   through the page cache, slower than memory, much faster than decoding again. The file is
   deleted as soon as it is opened (it lives as long as the run's process holds it);
3. otherwise nowhere: every epoch prepares its images again, as the first one did.

Each decision other than the first is said in one line (``train`` prints it), with the sizes
that made it and what to change.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

MEMORY_SHARE = 0.5
"""The largest share of the memory available at the start of a run that the cache may take."""


@dataclass(frozen=True)
class Placement:
    where: str  # memory | disk | none
    nbytes: int
    message: str | None = None  # why not memory, and what to change


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux: MemAvailable), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def free_disk(folder: str) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.2f} GB"


def fits_in_memory(nbytes: int) -> bool:
    memory = available_memory()
    return memory is None or nbytes <= MEMORY_SHARE * memory


def place(shape: tuple[int, ...], what: str) -> Placement:
    """Where a float32 cache of `shape` goes, by the module's rule; `what` names its contents in messages."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * 4
    if fits_in_memory(nbytes):
        return Placement("memory", nbytes)
    folder = tempfile.gettempdir()
    free = free_disk(folder)
    need = (
        f"{what} need {gb(nbytes)} once prepared, more than the cache may take in memory "
        f"({MEMORY_SHARE:.0%} of the {gb(available_memory() or 0)} available)"
    )
    if nbytes <= free * 0.9:
        return Placement(
            "disk", nbytes, f"{need}: caching them on disk in {folder} ({gb(free)} free; TMPDIR picks the folder)"
        )
    return Placement(
        "none",
        nbytes,
        f"{need}, and {folder} has {gb(free)} free: preparing them again every epoch, "
        "as slowly as the first (set TMPDIR to a disk with room to cache them there)",
    )


def disk_array(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array in a file mapped into memory; the file is deleted already, so nothing is left behind."""
    return np.memmap(tempfile.TemporaryFile(prefix="archspec-cache-"), np.float32, "w+", shape=shape)
