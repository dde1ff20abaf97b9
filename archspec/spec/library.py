"""The built-in block templates shipped in ``library.yaml``."""

from __future__ import annotations

import pkgutil
from functools import lru_cache

from pydantic import TypeAdapter

from ..kinds.blocks import Template
from .read import parse


@lru_cache(maxsize=1)
def builtin_templates() -> dict[str, Template]:
    # pkgutil rather than importlib.resources, whose import (tempfile, shutil) costs every command that checks a spec
    text = (pkgutil.get_data(__package__, "library.yaml") or b"").decode("utf-8")
    source = parse(text, "archspec/spec/library.yaml")
    return TypeAdapter(dict[str, Template]).validate_python(source.data)
