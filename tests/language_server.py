"""A small Language Server Protocol client, to drive the YAML language server editors run.

It speaks JSON-RPC over the server's stdin/stdout with Content-Length framing, as VS Code,
Neovim and Helix do: it answers the server's own requests (`workspace/configuration` from a
settings dict, capability registrations), keeps every `textDocument/publishDiagnostics` per
document, and lets a test wait for those events instead of sleeping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / ".ci" / "install-yaml-language-server.sh"


class Unavailable(Exception):
    """The server cannot be installed or started here (no node/npm, no registry)."""


def yaml_language_server() -> list[str]:
    """The command that starts the pinned yaml-language-server, installing it first when needed."""
    try:
        done = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{INSTALLER.name}: {exc}") from exc
    node = shutil.which("node")
    if done.returncode != 0 or node is None:
        raise Unavailable(f"{INSTALLER.name} failed: {done.stderr.strip()[-2000:]}")
    return [node, done.stdout.strip().splitlines()[-1], "--stdio"]


class LanguageServer:
    """One server process; requests block until their answer, diagnostics are waited for per document."""

    def __init__(
        self, command: list[str], settings: dict[str, Any], root: Path, initialization_options: Any = None
    ) -> None:
        self.settings = settings
        self.root = root
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root
        )
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._diagnostics: dict[str, list[dict[str, Any]]] = {}
        self._next_id = 0
        self._versions: dict[str, int] = {}
        self.configuration_requests = 0
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.capabilities = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "initializationOptions": initialization_options,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {
                    "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}},
                    "textDocument": {
                        "completion": {
                            "completionItem": {"snippetSupport": True, "documentationFormat": ["markdown", "plaintext"]}
                        },
                        "hover": {"contentFormat": ["markdown", "plaintext"]},
                        "publishDiagnostics": {"relatedInformation": True},
                    },
                },
            },
        )["capabilities"]
        self.notify("initialized", {})

    # -- wire --
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        with self._send_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                continue
            self._dispatch(json.loads(out.read(length)))

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line.decode(errors="replace"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # the server asks us something
            self._send({"id": message["id"], "result": self._answer(message["method"], message.get("params"))})
        elif "method" in message:
            if message["method"] == "textDocument/publishDiagnostics":
                with self._cond:
                    self._diagnostics[message["params"]["uri"]] = message["params"]["diagnostics"]
                    self._cond.notify_all()
        else:
            with self._cond:
                self._answers[message["id"]] = message
                self._cond.notify_all()

    def _answer(self, method: str, params: Any) -> Any:
        if method == "workspace/configuration":
            with self._cond:
                self.configuration_requests += 1
            return [self._section(item.get("section", "")) for item in params["items"]]
        return None  # client/registerCapability, window/workDoneProgress/create, ...

    def _section(self, section: str) -> Any:
        """A settings section the way VS Code answers it: `yaml` is the nested dict, `[yaml]` flat."""
        if section in self.settings:
            return self.settings[section]
        return {} if section.startswith("[") or section in ("editor", "http") else None

    # -- protocol --
    def request(self, method: str, params: dict[str, Any], timeout: float = 30) -> Any:
        with self._cond:
            self._next_id += 1
            rid = self._next_id
        self._send({"id": rid, "method": method, "params": params})
        with self._cond:
            if not self._cond.wait_for(lambda: rid in self._answers or self.proc.poll() is not None, timeout):
                raise TimeoutError(f"{method}: no answer in {timeout}s")
            if rid not in self._answers:
                raise RuntimeError(f"the server exited: {''.join(self._stderr)[-2000:]}")
            answer = self._answers.pop(rid)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def uri(self, name: str) -> str:
        """The URI of a document `name` in the workspace (it need not exist on disk)."""
        return (self.root / name).as_uri()

    def open(self, uri: str, text: str) -> None:
        """Open (or replace) a document; its next diagnostics are waited for with `diagnostics`."""
        with self._cond:
            self._diagnostics.pop(uri, None)
            version = self._versions[uri] = self._versions.get(uri, 0) + 1
        if version == 1:
            self.notify(
                "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}
            )
        else:
            self.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
            )

    def diagnostics(self, uri: str, timeout: float = 30) -> list[dict[str, Any]]:
        """The diagnostics published for the document's current text."""
        with self._cond:
            if not self._cond.wait_for(lambda: uri in self._diagnostics or self.proc.poll() is not None, timeout):
                raise TimeoutError(f"no diagnostics for {uri} in {timeout}s")
            if uri not in self._diagnostics:
                raise RuntimeError(f"the server exited: {''.join(self._stderr)[-2000:]}")
            return self._diagnostics[uri]

    def published(self, uri: str) -> bool:
        """Whether diagnostics for the document's current text have come (without waiting)."""
        with self._cond:
            return uri in self._diagnostics

    def completion(self, uri: str, line: int, character: int) -> list[dict[str, Any]]:
        result = self.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        return result["items"] if isinstance(result, dict) else (result or [])

    def hover(self, uri: str, line: int, character: int) -> str:
        """The hover text (markdown) at a position, '' when there is none."""
        result = self.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
        )
        if not result:
            return ""
        contents = result["contents"]
        return contents["value"] if isinstance(contents, dict) else str(contents)

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        except (TimeoutError, RuntimeError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
