"""Layer kinds. Importing a module registers its kinds in ``registry.KINDS``."""

from __future__ import annotations

import importlib

BUILTIN = ("norm", "pad", "conv", "pool", "dense", "simple", "merge", "blocks")


def load_builtin_kinds() -> None:
    for module in BUILTIN:
        importlib.import_module(f"{__name__}.{module}")
