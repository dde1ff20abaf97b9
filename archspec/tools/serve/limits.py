"""What the server refuses, and how often it does expensive work: plain Python, no web framework.

A request that breaks a rule is a ``Refused`` (an HTTP status and a sentence); the app answers
it as JSON. Expensive calls (checking a spec, running the model) are metered by token buckets,
so a stuck key or a script cannot keep the CPU busy for others.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

SPEC_BODY = 4 * 1024 * 1024 + 64 * 1024
"""Largest spec request: the reader's own limit on a spec (4 MiB) and room for the JSON around it."""
IMAGE_BODY = 8 * 1024 * 1024
"""Largest image upload."""
MAX_PIXELS = 4096 * 4096
"""Largest image (by its header) the model pane decodes."""


class Refused(Exception):
    """A request the server does not carry out: the HTTP status and why."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.fields = status, message, dict(headers or {}), fields


class RateLimit:
    """A token bucket: `burst` calls at once, refilled at `per_second`; thread-safe."""

    def __init__(self, per_second: float, burst: int, what: str) -> None:
        self.rate, self.burst, self.what = per_second, burst, what
        self.tokens = float(burst)
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        """Spend a token, or refuse with 429 and when to try again."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            wait = (1 - self.tokens) / self.rate
        raise Refused(
            429,
            f"too many {self.what} requests: at most {self.rate:g} a second",
            {"Retry-After": str(math.ceil(wait))},
            retry_after_ms=math.ceil(wait * 1000),
        )  # the header counts whole seconds; the page can wait less


def json_object(
    body: bytes, fields: Mapping[str, type | tuple[type, ...]], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A request body as a JSON object with exactly these fields, of these types (lists: of strings)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise Refused(400, f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise Refused(400, "malformed JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise Refused(400, f"expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise Refused(400, f"unknown field {unknown[0]!r}; expected {', '.join(sorted(fields))}")
    missing = [k for k in required if k not in data]
    if missing:
        raise Refused(400, f"missing field {missing[0]!r}")
    for key, value in data.items():
        if not isinstance(value, fields[key]):
            raise Refused(400, f"field {key!r} has the wrong type")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise Refused(400, f"field {key!r} must be a list of strings")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                _unicode(key, text)
    return data


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _unicode(key: str, text: str) -> None:
    """Refuse a string JSON's escapes made but Unicode has no character for (a lone surrogate, "\\ud800").

    ``json.loads`` accepts one; every later step that encodes the text (the YAML reader's size
    check, writing the file, the answer echoing a line of it) would then fail. Refusing it here,
    where the body is decoded, keeps every string past this point encodable as UTF-8."""
    found = _SURROGATE.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
        where = f" at line {line}, column {column}" if key == "text" else ""
        raise Refused(400, f"field {key!r} is not Unicode text: a lone surrogate \\u{ord(found[0]):04x}{where}")
