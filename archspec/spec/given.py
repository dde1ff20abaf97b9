"""How override values were given, so a message names them in the caller's words.

The same validation runs for `archspec shapes x.yaml --set clases=4` and for
``archspec.shapes("x.yaml", variables={"clases": 4})``; the first reader should be
told about `--set clases`, the second about `variables['clases']`. The values travel
through a dozen library calls as keyword arguments, so the wording is a context
variable the CLI sets for the length of one command (``cli.group``), not a parameter
of each of them. Python's wording is the default: a library call never names an option
it was not given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    """Templates for naming an override: `{key}` a variable or field, `{value}` its value (already shown)."""

    origin: str
    """Where a replaced field's problem is located (a Problem's `file`)."""
    name: str
    assignment: str
    variant: str

    def named(self, key: str) -> str:
        return self.name.format(key=key, quoted=repr(key))

    def assigned(self, key: str, value: str) -> str:
        return self.assignment.format(key=key, quoted=repr(key), value=value)

    def variant_named(self, value: object) -> str:
        return self.variant.format(value=value, quoted=repr(value))


PYTHON = Words(
    origin="variables", name="variables[{quoted}]", assignment="variables[{quoted}]={value}", variant="variant={quoted}"
)
COMMAND_LINE = Words(origin="--set", name="--set {key}", assignment="--set {key}={value}", variant="--variant {value}")

_GIVEN: ContextVar[Words] = ContextVar("archspec_given", default=PYTHON)


def words() -> Words:
    """The wording in force: Python's, unless a command of the CLI is running."""
    return _GIVEN.get()


@contextmanager
def given(wording: Words) -> Iterator[None]:
    """Name overrides in `wording` inside the block (the CLI: ``given(COMMAND_LINE)``)."""
    token = _GIVEN.set(wording)
    try:
        yield
    finally:
        _GIVEN.reset(token)
