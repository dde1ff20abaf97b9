"""The built-in block templates shipped in ``library.yaml``."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from pydantic import TypeAdapter

from ..kinds.blocks import Template
from .read import parse


@lru_cache(maxsize=1)
def builtin_templates() -> dict[str, Template]:
    text = resources.files(__package__).joinpath("library.yaml").read_text(encoding="utf-8")
    source = parse(text, "archspec/spec/library.yaml")
    return TypeAdapter(dict[str, Template]).validate_python(source.data)
