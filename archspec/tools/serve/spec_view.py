"""The spec pane's work: the text of the spec the server was started with, every edit checked as
`archspec shapes` checks a file, and saving back to that one file.

Edited text goes through the pure-Python path (``spec.read.parse`` with the file's own name,
``spec.validate``, ``graph.checked`` with the CLI's budgets: the checks `validate` runs), so a
problem reads exactly as the CLI prints it for the same text in the file. No TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import Problem, SpecError, labelled
from ...files import write_text
from ...graph import checked
from ...spec.given import COMMAND_LINE, given
from ...spec.overrides import parse_assignments
from ...spec.read import MAX_BYTES, format_of, parse, read_text
from ...spec.validate import option_problems, validate
from ..draw import diagram
from ..table import shapes_table
from .limits import Refused


def version_of(text: str) -> str:
    """A short digest of a text: the version a save must start from."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def problem_json(problem: Problem) -> dict[str, Any]:
    """A problem for the page: where (line, column, field) and the message exactly as the CLI prints it."""
    return {
        "line": problem.line,
        "column": problem.column,
        "path": problem.field_path,
        "summary": problem.message,
        "message": str(problem),
    }


class SpecView:
    """The spec file the server was started with. ``read_only`` says why saving is refused, when it is."""

    def __init__(self, path: Path, *, sets: tuple[str, ...] = (), read_only: str | None = None) -> None:
        self.path = path
        self.name = str(path)  # as given on the command line: the CLI's messages name the file so
        self.format = format_of(path)
        overrides = parse_assignments(sets, "--set")  # a bad --set stops the server before it starts
        self.sets = list(sets)
        self.read_only = read_only
        self.text = read_text(path)  # a spec that does not validate still opens: fixing it is what the page is for
        try:
            source = parse(self.text, self.name, fmt=self.format)
        except SpecError:
            source = None  # the page shows what is wrong with the text
        problems = option_problems(source.data, overrides, source) if source is not None else []
        if problems:  # but an option that names no variant, variable or field of the file is the command line's mistake
            raise SpecError(problems)

    def session(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.path.name,
            "format": self.format,
            "text": self.text,
            "version": version_of(self.text),
            "sets": self.sets,
            "read_only": self.read_only,
        }

    def check(self, text: str, sets: list[str]) -> dict[str, Any]:
        """Shapes table, diagram and warnings of edited text, or its problems; the variables it declares either way."""
        fn, args = self.job(text, sets)
        answer: dict[str, Any] = fn(*args)
        return answer

    def job(self, text: str, sets: list[str]) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """`check` as a function and its arguments, both picklable: what the server sends to a worker process."""
        return check_text, (self.name, self.format, text, sets)

    def save(self, text: str, version: str) -> str:
        """Write `text` over the file, atomically, if it is still the version the page started from; the new version."""
        if self.read_only:
            raise Refused(403, f"not saved: {self.read_only}")
        if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            raise Refused(413, f"not saved: a spec is at most {MAX_BYTES:,} bytes")
        try:
            on_disk = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            on_disk = None
        if on_disk is not None and version_of(on_disk) != version:
            raise Refused(
                409, f"not saved: {self.name} changed on disk since the page loaded it; reload the page to see it"
            )
        write_text(self.path, text, force=True)
        self.text = text
        return version_of(text)


def _shown(value: Any) -> str:
    """A variable's value as it would be typed after --set NAME=."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value)


def check_text(name: str, fmt: str, text: str, sets: list[str]) -> dict[str, Any]:
    """What the page shows for `text` as the file `name` (format `fmt`) with `sets`: a module function, so a worker
    process can run it."""
    variables: dict[str, str] | None = None
    try:
        overrides = parse_assignments(sets, "--set")
        source = parse(text, name, fmt=fmt)
        declared = source.data.get("variables")
        variables = {str(k): _shown(v) for k, v in declared.items()} if isinstance(declared, dict) else {}
        with given(COMMAND_LINE):  # a worker thread or process: the `--set` values are the command line's
            graph, report = checked(validate(source, overrides))
    except SpecError as exc:
        return {"ok": False, "problems": [problem_json(p) for p in exc.problems], "variables": variables}
    return {
        "ok": True,
        "variables": variables,
        "table": shapes_table(report).to_json(),
        "warnings": [problem_json(p) for p in labelled(report.warnings, "warning")],
        "diagram": diagram(graph, report, format="html"),
    }
