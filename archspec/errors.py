"""One error root for everything a user can get wrong.

Every failure caused by input (a spec file, a dict, a CLI option) is a
``SpecError``. It carries one or more ``Problem`` records, each with enough
location to point an editor at the offending token, so the CLI can print
them all and exit 2 without a traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

PathPart = str | int


def format_path(path: Sequence[PathPart]) -> str:
    """``('layers', 3, 'conv', 'kernel')`` -> ``layers[3].conv.kernel``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid name a typo most likely meant, or None when nothing is close."""
    matches = difflib.get_close_matches(str(name), sorted(set(choices)), n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, and where."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: tuple[PathPart, ...] = ()
    hint: str | None = None
    source_line: str | None = None

    @property
    def field_path(self) -> str:
        return format_path(self.path)

    def location(self) -> str:
        parts = [self.file or "<spec>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        head = self.location()
        if self.path:
            head += f": {self.field_path}"
        text = f"{head}: {self.message}"
        if self.source_line is not None and self.column is not None:
            line, caret = self.source_line, self.column - 1
            if len(line) > 100:  # show a window around the column, not a whole minified file
                start = max(0, caret - 50)
                line, caret = ("..." if start else "") + line[start : start + 100] + "...", caret - start + (3 if start else 0)
            text += f"\n    {line}\n    {' ' * caret}^"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ArchspecError(Exception):
    """Root of archspec's own exceptions."""


class SpecError(ArchspecError, ValueError):
    """The input is wrong. Holds every problem found, first one first."""

    def __init__(self, problems: Problem | Sequence[Problem]):
        self.problems: tuple[Problem, ...] = (
            (problems,) if isinstance(problems, Problem) else tuple(problems)
        )
        if not self.problems:
            raise ValueError("SpecError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    # The first problem's fields, for callers that handle one error at a time.
    @property
    def file(self) -> str | None:
        return self.problems[0].file

    @property
    def line(self) -> int | None:
        return self.problems[0].line

    @property
    def column(self) -> int | None:
        return self.problems[0].column

    @property
    def path(self) -> str:
        return self.problems[0].field_path

    @property
    def message(self) -> str:
        return self.problems[0].message

    @property
    def hint(self) -> str | None:
        return self.problems[0].hint
