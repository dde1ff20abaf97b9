"""A headless Chromium the tests can drive: the DevTools protocol over a pipe.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands (JSON, each ended by a
NUL byte) on its file descriptor 3 and writes answers and events on 4. That is all a test needs
to load a page, type, draw with the mouse, upload a file, wait for the page's own events, read
the console and take screenshots: no websocket library, no driver, no download. The binary is the
one `archspec draw` uses (``draw.chromium()``, installed by .ci/install-chromium.sh).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from archspec.tools import draw


class BrowserError(AssertionError):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    def __init__(self, exe: str, profile: Path, *, width: int = 1400, height: int = 1000) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        to_browser, from_browser = (
            _above_four(to_browser),
            _above_four(from_browser),
        )  # else one redirection below could overwrite the other
        args = [
            *draw.chromium_args(str(profile)),
            "--remote-debugging-pipe",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        # fds 3 and 4 in the child are the protocol's; bash puts the pipes there before exec (dash cannot name fds
        # above 9)
        self.proc = subprocess.Popen(
            ["bash", "-c", 'exec "$0" "$@" 3<&"$CDP_IN" 4>&"$CDP_OUT"', exe, *args],
            pass_fds=(to_browser, from_browser),
            env={**os.environ, "CDP_IN": str(to_browser), "CDP_OUT": str(from_browser)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        return self._next

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError("the browser did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError("the browser closed the pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None, *, timeout: float = 60
    ) -> dict[str, Any]:
        """Send a command and wait for its answer (events that arrive meanwhile are kept in `events`)."""
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, session: str, method: str, *, timeout: float = 60) -> dict[str, Any]:
        """The first protocol event `method` of a session (kept ones first, then new ones)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("sessionId") == session and event["method"] == method:
                    self.events.remove(event)
                    return event
            seen = len(self.events)
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(message)

    def new_page(self) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, target)
        for domain in ("Page", "Runtime", "Log", "DOM"):
            page.call(f"{domain}.enable")
        return page


def _above_four(fd: int) -> int:
    """The same pipe end on a descriptor number of 10 or more (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Page:
    def __init__(self, browser: Browser, session: str, target: str) -> None:
        self.browser, self.session, self.target = browser, session, target

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 60) -> dict[str, Any]:
        return self.browser.call(method, params, self.session, timeout=timeout)

    def evaluate(self, expression: str, *, timeout: float = 60) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, timeout=timeout
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(
                f"{expression[:200]}: {details.get('exception', {}).get('description') or details.get('text')}"
            )
        return result["result"].get("value")

    def goto(self, url: str, *, timeout: float = 60) -> None:
        """Load a page and wait for its load event."""
        events = self.browser.events
        events[:] = [
            e for e in events if not (e.get("sessionId") == self.session and e["method"] == "Page.loadEventFired")
        ]
        self.call("Page.navigate", {"url": url})
        self.browser.wait_event(self.session, "Page.loadEventFired", timeout=timeout)

    def arm(self, event: str) -> None:
        """Start listening for the page's next `event` (before the action that causes it)."""
        self.evaluate(
            f"window.__armed = window.__armed || {{}}; window.__armed[{json.dumps(event)}] = "
            "new Promise(function (resolve) "
            f"{{ window.addEventListener({json.dumps(event)}, "
            "function (e) { resolve(e.detail); }, {once: true}); }); 0"
        )

    def wait(self, event: str, *, timeout: float = 60) -> Any:
        """The detail of the `event` armed before (a copy, as JSON)."""
        return self.evaluate(
            f"window.__armed[{json.dumps(event)}].then(function (d) {{ return JSON.parse(JSON.stringify(d)); }})",
            timeout=timeout,
        )

    def wait_for(self, condition: str, event: str, *, timeout: float = 60) -> Any:
        """Wait until a JavaScript condition holds, re-checking it each time the page fires `event`."""
        return self.evaluate(
            "new Promise(function (resolve) { function test() { var v = ("
            + condition
            + "); if (v) { resolve(v); return true; } return false; }"
            " if (!test()) "
            f"{{ window.addEventListener({json.dumps(event)}, function again() {{ if (test()) "
            f"window.removeEventListener({json.dumps(event)}, again); }}); }} }})",
            timeout=timeout,
        )

    def mouse(self, kind: str, x: float, y: float, *, buttons: int = 1) -> None:
        self.call(
            "Input.dispatchMouseEvent",
            {
                "type": kind,
                "x": x,
                "y": y,
                "button": "left",
                "buttons": buttons,
                "clickCount": 1,
                "pointerType": "mouse",
            },
        )

    def insert_text(self, text: str) -> None:
        """Type text at the caret, as a keyboard would (the page gets its input events)."""
        self.call("Input.insertText", {"text": text})

    def set_files(self, selector: str, files: list[Path]) -> None:
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        self.call("DOM.setFileInputFiles", {"nodeId": node, "files": [str(f) for f in files]})

    def screenshot(self, target: Path, selector: str | None = None) -> Path:
        """A PNG of the whole page, or of one element's box."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if selector is not None:
            box = self.evaluate(
                f"(function () {{ var r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()"
            )
            params["clip"] = {**box, "scale": 1}
        data = self.call("Page.captureScreenshot", params)["data"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
        return target

    def console_problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and failed loads this page has logged so far."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append(
                    f"console.{params['type']}: "
                    + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                )
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                entry = params["entry"]
                found.append(f"log {entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        return found
