"""From what a caller holds (a path or zoo name, YAML/JSON text, a dict, a validated spec) to a validated spec.

Every entry point of the library (the Python API, the CLI, training, export)
goes through ``coerce``, so a spec is read and validated the same way
wherever it comes from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from ..errors import Problem, SpecError, shown
from .network import SpecBase
from .read import Source, parse, read
from .validate import validate

SpecLike = BaseModel | str | os.PathLike[str] | Mapping[str, Any]


def load(path: str | os.PathLike[str], **overrides: Any) -> SpecBase:
    """Read and validate a spec file (YAML, or JSON by extension); keywords override its variables.

    A bare name that names no file (``resnet50``) is the zoo's spec of that name (``zoo.locate``): every command
    and API call that takes a spec path reads it here, so they all take zoo names alike."""
    if not os.path.exists(path):  # the zoo is looked at only when the path names no file
        from .zoo import locate

        path = locate(path)
    return validate(read(path), overrides)


def loads(spec: str | Mapping[str, Any], *, format: str = "yaml", **overrides: Any) -> SpecBase:
    """Validate a spec given as YAML/JSON text or as a dict."""
    if isinstance(spec, Mapping):
        source = Source(data=dict(spec), file="<dict>")
    else:
        source = parse(spec, "<string>", fmt=format)
    return validate(source, overrides)


def coerce(spec: SpecLike, overrides: Mapping[str, Any] | None = None) -> SpecBase:
    """A validated spec from a spec model, a path or zoo name, or a dict (overrides apply when reading).

    A str is a path or zoo name, never spec text (that is ``loads``'s): text is refused, not guessed at."""
    overrides = overrides or {}
    if isinstance(spec, BaseModel):
        if overrides:
            raise TypeError("overrides apply when reading a spec; pass a path, text or dict")
        if not isinstance(spec, SpecBase):
            raise TypeError(f"expected a spec model (archspec.load, archspec.loads), got {type(spec).__name__}")
        return spec
    if isinstance(spec, Mapping):
        return loads(spec, **overrides)
    if isinstance(spec, str) and ("\n" in spec or spec.lstrip().startswith("{")) and not os.path.exists(spec):
        raise SpecError(
            Problem(
                f"{shown(spec)} is not a path or a zoo name: it reads as spec text",
                hint="a str is always a path or a zoo name (guessing would read a file named like text); "
                "give spec text to archspec.loads(text)",
            )
        )
    return load(spec, **overrides)
