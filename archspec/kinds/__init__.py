"""Layer kinds. Importing a module registers its kinds in ``registry.KINDS``.

Third-party kinds arrive two ways, neither touching archspec's source: a
``register_kind(...)`` call, or an entry point in the ``archspec.kinds``
group whose target is imported (and, if callable, called) once, before the
first spec is validated.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import ArchspecError

BUILTIN = ("norm", "pad", "conv", "depthwise", "pool", "dense", "simple", "shape", "scale", "merge", "upsampling", "blocks", "mobile", "convnext", "nasnet")
ENTRY_POINT_GROUP = "archspec.kinds"
_loaded = False


def load_builtin_kinds() -> None:
    """Register the built-in kinds, then those of installed plugins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN:
        importlib.import_module(f"{__name__}.{module}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = ep.load()
            if callable(target):
                target()
        except Exception as exc:  # a broken plugin must say which one it is
            raise ArchspecError(f"archspec plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
