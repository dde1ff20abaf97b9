"""Layer kinds. Importing a module registers its kinds in ``registry.KINDS``.

Third-party kinds arrive two ways, neither touching archspec's source: a
``register_kind(...)`` call, or an entry point in the ``archspec.kinds``
group whose target is imported (and, if callable, called) once, before the
first spec is validated.
"""

from __future__ import annotations

import importlib
import os
import sys

from ..errors import ArchspecError

BUILTIN = ("norm", "pad", "conv", "pool", "dense", "simple", "merge", "blocks")
ENTRY_POINT_GROUP = "archspec.kinds"
_loaded = False


def _may_have_plugins() -> bool:
    """Whether an installed distribution may declare an ``archspec.kinds`` entry point.

    Importing importlib.metadata and asking it costs about 40 ms, a third of `archspec shapes`;
    reading the few entry_points.txt files of sys.path's folders costs about 1 ms. Only when one
    names the group (or a sys.path entry is an archive this scan cannot read) does the real
    lookup run, so the answer is the same."""
    for entry in sys.path:
        try:
            listing = os.scandir(entry or ".")
        except NotADirectoryError:
            return True  # a zip or egg file on sys.path
        except OSError:
            continue
        with listing:
            for item in listing:
                name = item.name.lower()
                if name.endswith((".dist-info", ".egg-info")) or name == "egg-info":
                    try:
                        with open(os.path.join(item.path, "entry_points.txt"), encoding="utf-8", errors="replace") as f:
                            if ENTRY_POINT_GROUP in f.read():
                                return True
                    except OSError:
                        continue
    return False


def load_builtin_kinds() -> None:
    """Register the built-in kinds, then those of installed plugins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN:
        importlib.import_module(f"{__name__}.{module}")
    if not _may_have_plugins():
        return
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = ep.load()
            if callable(target):
                target()
        except Exception as exc:  # a broken plugin must say which one it is
            raise ArchspecError(f"archspec plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
