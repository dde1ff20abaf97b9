"""One error root for everything archspec raises on purpose.

Every failure caused by input (a spec file, a dict, a CLI option) is a
``SpecError``. It carries one or more ``Problem`` records, each with enough
location to point an editor at the offending token, so the CLI can print
them all and exit 2 without a traceback. A result the machine refuses to store
(a full disk) is an ``OutputError`` instead (exit 74): the input was fine. The
shape engine's ``ShapeError`` and the importer's ``Unsupported`` are archspec
errors too, turned into located SpecErrors where they are caught.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

PathPart = str | int
SpecPath = tuple[PathPart, ...]
"""Where a value sits in a spec: ``('layers', 3, 'conv', 'kernel')``."""


MAX_SHOWN = 80
"""Characters of a quoted value a message shows; the rest is summarised by its length."""
MAX_MESSAGE = 600
"""Longest message or hint printed whole (a safety net for values quoted without ``shown``)."""


def escaped(text: str) -> str:
    """Text with invisible and control characters written as escapes (``\\u200b``), so a name
    that differs by a zero-width space, or holds terminal escape codes, prints as it really is."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == "\n" else f"\\u{ord(c):04x}" if ord(c) > 0xFF else f"\\x{ord(c):02x}" for c in text
    )


def clipped(text: str, limit: int = MAX_MESSAGE) -> str:
    """Text cut to about `limit` characters, keeping both ends: a quoted 3 MB value is not echoed whole."""
    if len(text) <= limit:
        return text
    keep = limit // 2
    return f"{text[:keep]}...({len(text) - 2 * keep:,} characters)...{text[-keep:]}"


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` for a message, cut short when long: ``'aaaa...(60,000 characters)``."""
    if isinstance(value, int) and value.bit_length() > 128:  # repr of a 5,000-digit int raises; none is needed
        return f"a {int(value.bit_length() * 0.30103) + 1:,}-digit number"
    if isinstance(value, (str, list, tuple, dict)) and len(value) > limit:
        text = repr(value[:limit] if not isinstance(value, dict) else dict(list(value.items())[:limit]))
        return f"{text[: limit // 2]}...({len(value):,} {'characters' if isinstance(value, str) else 'items'})"
    return clipped(repr(value), limit)


def format_path(path: Sequence[PathPart]) -> str:
    """``('layers', 3, 'conv', 'kernel')`` -> ``layers[3].conv.kernel``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = clipped(escaped(str(part)), MAX_SHOWN)
            out += f".{part}" if out else part
    return out


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid name a typo most likely meant, or None when nothing is close."""
    import difflib  # here: only a mistake needs it, and every command imports this module

    matches = difflib.get_close_matches(str(name), sorted(set(choices)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def lookalike(typed: str, meant: str) -> str | None:
    """When two names differ only in characters that look alike or do not show (a Cyrillic 'е' for
    a Latin 'e', a zero-width space), the words that say which: "did you mean 'filters'?" alone
    reads as a suggestion to write what the user believes they wrote."""
    import difflib
    import unicodedata

    def named(c: str) -> str:
        return f"U+{ord(c):04X} {unicodedata.name(c, 'character').lower()}"

    def q(text: str) -> str:
        return f"'{escaped(text)}'"

    typed, meant = str(typed), str(meant)
    odd: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, typed, meant, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        a, b = typed[i1:i2], meant[j1:j2]
        if (
            op == "replace"
            and len(a) == len(b)
            and all(x.casefold() != y.casefold() for x, y in zip(a, b, strict=True))
            and all(not x.isascii() or not y.isascii() for x, y in zip(a, b, strict=True))
        ):
            odd += [
                f"{q(x)} ({named(x)}) where {q(meant)} has {q(y)}"
                if not x.isascii()
                else f"{q(x)} where {q(meant)} has {q(y)} ({named(y)})"
                for x, y in zip(a, b, strict=True)
            ]
        elif op in ("delete", "insert") and all(
            not (c.isprintable() and not c.isspace()) or unicodedata.category(c) == "Cf" for c in a + b
        ):
            odd += [f"an invisible {named(c)}" + (f" in {q(meant)}" if op == "insert" else "") for c in a + b]
        else:
            return None
    return f"{q(typed)} has " + ", ".join(odd) if odd else None


LOOKALIKES = str.maketrans(
    "аеорсуххіјѕԁԛԝοανρκАВЕКМНОРСТХІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "aeopcyxxijsdqwoavpkABEKMHOPCTXIJSABEZHIKMNOPTYX"
)
"""Cyrillic and Greek letters drawn like Latin ones: what a name copied from elsewhere may hold."""


def _folded(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cf").translate(
        LOOKALIKES
    )


def did_you_mean(name: object, choices: Iterable[str], sigil: str | None = None) -> str:
    """`did you mean 'x'? ` (with the look-alike characters named when that is all the difference), or ''.
    A short name that differs only by look-alikes (`$fe` for a variable written `fе`) is found too.
    `sigil`: write the name unquoted after it (`did you mean $classes?`)."""
    choices = list(choices)
    near = closest(str(name), choices) or next((c for c in choices if _folded(str(c)) == _folded(str(name))), None)
    if near is None:
        return ""
    alike = lookalike(str(name), near)
    written = repr(near) if sigil is None else sigil + near
    return f"did you mean {written}? " + (f"({alike}) " if alike else "")


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
        head = escaped(self.location())
        if self.path:
            head += f": {self.field_path}"
        text = f"{head}: {clipped(escaped(self.message))}"
        if self.source_line is not None and self.column is not None:
            line, caret = self.source_line, self.column - 1
            if len(line) > 100:  # show a window around the column, not a whole minified file
                start = max(0, caret - 50)
                line, caret = (
                    ("..." if start else "") + line[start : start + 100] + "...",
                    caret - start + (3 if start else 0),
                )
            # invisible characters are shown escaped; the caret moves with the text before it
            caret = len(escaped(line[:caret]))
            text += f"\n    {escaped(line)}\n    {' ' * caret}^"
        if self.hint:
            text += f"\n  hint: {clipped(escaped(self.hint))}"
        return text


def labelled(problems: Iterable[Problem], label: str) -> list[Problem]:
    """Lint findings with what they are this time: `warning`, or `error` under --strict."""
    return [replace(p, message=f"{label}: {p.message}") for p in problems]


class ArchspecError(Exception):
    """Root of archspec's own exceptions: whatever archspec raises on purpose, the CLI prints as a message
    without a traceback (see ``EXIT_STATUS`` for the exit status of each family)."""


class Reported(ArchspecError):
    """An error made of located ``Problem`` records, printed one per problem, first one first."""

    def __init__(self, problems: Problem | Sequence[Problem]):
        self.problems: tuple[Problem, ...] = (problems,) if isinstance(problems, Problem) else tuple(problems)
        if not self.problems:
            raise ValueError(f"{type(self).__name__} needs at least one problem")
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


class SpecError(Reported, ValueError):
    """The input is wrong (a spec, a file given to read, an option): the person can fix it. Exit status 2."""


class OutputError(Reported):
    """The machine refused to store a result (disk full, quota, read-only file system, permissions, file size):
    the input is fine and the same command succeeds once the cause is gone. Not a SpecError, so a caller that
    handles bad input does not swallow it, and the CLI gives it its own exit status (74, sysexits' EX_IOERR),
    so a script can tell "fix the spec" (2) from "fix the machine, then retry" (74)."""


EXIT_STATUS: tuple[tuple[type[ArchspecError], int], ...] = ((SpecError, 2), (OutputError, 74), (ArchspecError, 1))
"""The CLI's exit status for each error family, the first that matches: 2 bad input, 74 output refused,
1 anything else archspec raised on purpose (such as a plugin that failed to load)."""


def exit_status(error: ArchspecError) -> int:
    return next(status for family, status in EXIT_STATUS if isinstance(error, family))


class DataError(SpecError):
    """Training or prediction data cannot be read, or does not fit the network: the data family of input errors,
    a ``SpecError`` (located, exit 2 on the command line) that a caller can tell from a wrong spec."""
