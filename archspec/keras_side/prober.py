"""The process that reads a weights file before this one does (``weights.probe``): on some damaged data the HDF5
library loops forever or crashes, and no Python code can interrupt it, so a file is first read elsewhere.

Starting a fresh Python with h5py for each file costs about 0.3 s of CPU; loading weights happens often (every
``--weights``, every fine-tuning phase, the serve page's model pane, a fuzzer's thousands of files). So one child,
the prober, is started on first use with h5py imported and forks a reader for each file: a fork costs
milliseconds. The prober is single-threaded, which is what makes forking it safe (forking this process, which runs
TensorFlow's threads, would not be). A reader that hangs takes the prober down with it: the whole process group is
killed and the next file starts a new one. POSIX only (fork, process groups, select on a pipe), as is the rest of
archspec's process handling.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

SERVER = r"""
import json, os, sys
import h5py  # imported once, before any fork
from archspec.keras_side import weights
out = sys.stdout.buffer
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the reader's prints must not reach the answers
        try:
            exec(request["code"], {"path": request["path"]})
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    out.write(b"%d\n" % (-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)))
    out.flush()
"""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How reading one file went: ``hung`` (killed after the time allowed), else the reader's exit status
    (negative: the signal that ended it; 1: a Python exception, which the caller's own reader will word)."""

    hung: bool = False
    status: int = 0


_lock = threading.Lock()
_child: subprocess.Popen[bytes] | None = None


def _start() -> subprocess.Popen[bytes]:
    tree = str(Path(__file__).resolve().parents[2])  # the folder holding archspec
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", SERVER],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        bufsize=0,
        start_new_session=True,  # its own process group: a hung reader is killed with it, never this process
    )


def _kill(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    child.wait()


def _send(child: subprocess.Popen[bytes], request: bytes) -> None:
    assert child.stdin is not None
    child.stdin.write(request)


def read(code: str, path: Path, seconds: float) -> Outcome:
    """Run `code` (with `path` bound) in a reader process; wait at most `seconds`."""
    global _child
    with _lock:
        if _child is None or _child.poll() is not None:
            _child = _start()
        request = json.dumps({"code": code, "path": str(path)}).encode() + b"\n"
        try:
            _send(_child, request)
        except BrokenPipeError:  # it died between two files: one more start
            _child = _start()
            _send(_child, request)
        child = _child
        assert child.stdout is not None
        answer = b""
        fd = child.stdout.fileno()
        while not answer.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], seconds)
            if not ready:
                _kill(child)
                _child = None
                return Outcome(hung=True)
            part = os.read(fd, 64)
            if not part:  # the prober itself ended
                _child = None
                return Outcome(status=child.wait())
            answer += part
        return Outcome(status=int(answer))
