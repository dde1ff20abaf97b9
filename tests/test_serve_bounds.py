"""archspec serve under a careless or hostile client: every bad request a 4xx, work bounded in time and size,
slow clients dropped, and the server stopped by Ctrl-C or SIGTERM whatever it is doing.

The API tests use Starlette's test client; the ones about time, connections and signals start the real
server on 127.0.0.1 (``Server`` from test_serve) and wait on events (an answer, a closed socket, an
exit), each bounded by a deadline, never on a sleep.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="archspec[serve] not installed")
pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2")

from conftest import ROOT
from starlette.testclient import TestClient
from test_serve import BASE, LENET, SERVE, client_for

from archspec.tools.serve.app import create_app
from archspec.tools.serve.run import views
from archspec.tools.serve.work import Budget, default_workers


# -- every bad request is a 4xx ----------------------------------------------------------------
@pytest.mark.parametrize("route", ["/api/spec/check", "/api/spec/save"])
@pytest.mark.parametrize("text", [r"name: x\n# \ud800\n", r"name: \"\udc00\"\n", r"\ud800: 1\n", r"name: a\ud83d\n"])
def test_a_lone_surrogate_is_a_400_not_a_500(spec_file, route, text):
    """JSON may escape half a UTF-16 pair ("\\ud800"): no character, so no UTF-8 for it; refused where the body is
    read."""
    client = client_for(spec_file)
    version = client.get("/api/session").json()["spec"]["version"]
    body = '{{"text": "{}", {}}}'.format(text, f'"version": "{version}"' if route.endswith("save") else '"sets": []')
    answer = client.post(route, content=body.encode("ascii"), headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert "lone surrogate" in error and "field 'text'" in error and "line " in error, error
    assert spec_file.read_text() == LENET.read_text()


def test_a_lone_surrogate_in_a_set_is_a_400(spec_file):
    client = client_for(spec_file)
    body = json.dumps({"text": "name: x\n", "sets": ["classes=\ud800"]}).encode("ascii")  # json.dumps writes the escape
    answer = client.post("/api/spec/check", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "field 'sets' is not Unicode text" in answer.json()["error"], answer.text


def test_a_surrogate_pair_is_text(spec_file):
    """Both halves of a pair make one character (an emoji): that is text, and is checked and saved."""
    client = client_for(spec_file)
    text = LENET.read_text().replace("name: lenet", "name: lenet  # \U0001f600", 1)
    body = json.dumps({"text": text})  # ASCII, the emoji as "\\ud83d\\ude00"
    assert "\\ud83d\\ude00" in body
    answer = client.post("/api/spec/check", content=body.encode("ascii"), headers={"content-type": "application/json"})
    assert answer.status_code == 200 and answer.json()["ok"], answer.text


# -- work is bounded ---------------------------------------------------------------------------
EXPANSION = "name: r\ninput: [8, 8, 1]\nlayers:\n  - repeat: {times: 65536, layers: [{conv: {depth: 1, kernel: 1}}]}\n"
"""103 bytes that expand to 65,536 layers: more than 10 s of a CPU, and a 65 MB answer, to check."""


def budget_client(spec_file, **budget) -> TestClient:
    spec, _ = views(spec_file)
    return TestClient(create_app(spec, None, budget=Budget(**budget)), base_url=BASE)


def test_a_check_past_its_time_budget_is_stopped_with_a_422(spec_file):
    client = budget_client(spec_file, seconds=2.0, workers=1)
    t0 = time.monotonic()
    answer = client.post("/api/spec/check", json={"text": EXPANSION})
    took = time.monotonic() - t0
    assert answer.status_code == 422, answer.text
    data = answer.json()
    assert "stopped after 2 s, the server's time budget" in data["error"] and data["budget"] == {"seconds": 2.0}
    (problem,) = data["problems"]  # what the page shows in its problems pane
    assert (
        problem["message"].startswith(f"{spec_file}: not checked: stopped after 2 s")
        and "archspec shapes" in problem["message"]
    )
    assert took < 15, (
        took
    )  # the worker's start (a fork server's first import) is not counted in the budget; the work is
    # the killed worker is replaced: the next check is answered as usual
    again = client.post("/api/spec/check", json={"text": LENET.read_text()})
    assert again.status_code == 200 and again.json()["ok"], again.text


def test_memory_and_answer_size_have_budgets(spec_file, monkeypatch):
    client = budget_client(spec_file, memory=256 << 20, answer=10_000)
    big = client.post(
        "/api/spec/check", json={"text": LENET.read_text()}
    )  # LeNet's answer: some 60 KB with its diagram
    assert big.status_code == 422 and re.search(
        r"the answer would be \d+\.\d KiB, over the server's budget of 9\.8 KiB", big.json()["error"]
    ), big.text
    viewed, _ = views(spec_file)
    monkeypatch.setattr(viewed, "job", lambda text, sets: (bytearray, (1 << 30,)))  # a 1 GiB allocation in the worker
    hungry = TestClient(create_app(viewed, None, budget=Budget(memory=256 << 20)), base_url=BASE)
    answer = hungry.post("/api/spec/check", json={"text": "x"})
    assert (
        answer.status_code == 422 and "needed more than 256.0 MiB, the server's memory budget" in answer.json()["error"]
    ), answer.text
    assert hungry.post("/api/spec/check", json={"text": "x"}).status_code == 422  # a fresh worker, the same answer


# -- the real server on 127.0.0.1 ----------------------------------------------------------------
class BudgetServer:
    """`archspec serve TARGET --port 0` in a child process, or `serve()` with a budget (the CLI has no option for it);
    its port read from what it prints."""

    def __init__(self, target: Path, budget: str | None = None) -> None:
        code = (
            "import sys; from archspec.tools.serve import serve; from archspec.tools.serve.work import Budget; "
            f"serve({str(target)!r}, port=0, budget={budget}, say=lambda m: print(m, flush=True))"
        )
        cmd = [sys.executable, "-c", code] if budget else [*SERVE, str(target), "--port", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if ready else ""
        found = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
        if not found:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {line!r} {self.proc.stderr.read()[-3000:]}")
        self.port = int(found[1])

    def post(self, path: str, payload: dict, timeout: float = 60) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", path, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()

    def signal_and_wait(self, sig: int, limit: float) -> tuple[float, int, str]:
        """Send `sig`; (seconds until the process ended, its exit status, its stderr). Killed, and a failure, past
        `limit`."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{signal.Signals(sig).name} did not stop the server within {limit} s") from None
        took = time.monotonic() - t0
        return took, self.proc.returncode, self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def burst(server: BudgetServer, n: int, text: str) -> queue.Queue[tuple[int, dict]]:
    """`n` checks of `text` at once, each on its own connection and thread; their answers arrive on the queue."""
    answers: queue.Queue[tuple[int, dict]] = queue.Queue()

    def one() -> None:
        try:
            answers.put(server.post("/api/spec/check", {"text": text}))
        except (OSError, http.client.HTTPException) as exc:  # the server went away under it: a closed connection
            answers.put((0, {"error": repr(exc)}))

    for _ in range(n):
        threading.Thread(target=one, daemon=True).start()
    return answers


def check_with_retries(server: BudgetServer, text: str, limit: float) -> tuple[int, dict, float]:
    """A check as the page makes it: on 429, again after the retry_after_ms the answer gives; (status, answer,
    seconds)."""
    t0 = time.monotonic()
    while True:
        status, data = server.post("/api/spec/check", {"text": text})
        if status != 429 or time.monotonic() - t0 > limit:
            return status, data, time.monotonic() - t0
        threading.Event().wait(data["retry_after_ms"] / 1000)  # the server's own Retry-After, as the page waits it


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_41_expansions_at_once_neither_starve_a_check_nor_stop_a_signal(spec_file, sig):
    server = BudgetServer(spec_file)  # as the CLI starts it: 10 s a request, 2 workers (1 on one CPU), 4 waiting
    try:
        answers = burst(server, 41, EXPANSION)
        busy = [answers.get(timeout=30) for _ in range(41 - default_workers() - 4)]  # the rest are refused at once
        assert {status for status, _ in busy} == {429}, busy[:3]
        assert "busy" in busy[0][1]["error"] and busy[0][1]["retry_after_ms"] >= 1000
        # the page's next edit: a long job is stopped for it, and it is answered like any other check
        status, data, took = check_with_retries(server, LENET.read_text(), limit=60)
        assert status == 200 and data["ok"], (status, data)
        assert took < 8, (
            f"a normal check under the burst took {took:.1f} s"
        )  # within a preemption or two, not the 10 s budget
        print(f"a normal check under 41 expansions: {took:.2f} s")
        took, rc, err = server.signal_and_wait(sig, limit=10)
        assert took < 1.5, f"{signal.Signals(sig).name} took {took:.2f} s to stop the server"
        assert rc == 0 and "Traceback" not in err, (rc, err[-2000:])
        print(f"{signal.Signals(sig).name}: stopped in {took:.2f} s under 6 expansions at work or waiting")
        rest = [answers.get(timeout=10) for _ in range(default_workers() + 4)]  # every request had its answer:
        assert {status for status, _ in rest} <= {0, 422, 429, 503}, (
            rest
        )  # over budget, refused, stopped, or its connection closed
    finally:
        server.kill()


# -- slow clients --------------------------------------------------------------------------------
def closed_within(sock: socket.socket, limit: float, drip: bytes = b"", every: float = 0.1) -> tuple[float, bytes]:
    """Wait (bounded) for the server to close `sock`, sending `drip` a byte at a time meanwhile, as a slow client does;
    (seconds until closed, what the server sent). A failure if it is still open after `limit` seconds."""
    t0, got, sent = time.monotonic(), b"", 0
    while time.monotonic() - t0 < limit:
        readable, _, _ = select.select([sock], [], [], every)  # the wait is the drip's pace; the event is the close
        if readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return time.monotonic() - t0, got
            got += chunk
        elif sent < len(drip):
            try:
                sock.send(drip[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0, got
            sent += 1
    raise AssertionError(f"the connection was still open after {limit} s ({sent} bytes sent, {got[:200]!r} received)")


def test_an_idle_connection_is_closed(spec_file):
    """A connection that never sends a request: closed after the headers' deadline (10 s as the CLI starts)."""
    server = BudgetServer(spec_file)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            took, got = closed_within(sock, limit=20)
        assert 9 < took < 13 and got == b"", (took, got)
        print(f"an idle connection closed after {took:.2f} s")
    finally:
        server.kill()


def test_slow_headers_and_slow_bodies_are_cut_off(spec_file):
    server = BudgetServer(spec_file, "Budget(headers=1.0, body=1.0)")
    try:
        # headers a byte every 0.1 s (a slowloris): closed after about a second, before they are all in
        head = (
            f"POST /api/spec/check HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: "
            "application/json\r\n".encode()
            + b"X-Pad: "
            + b"a" * 200
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            took, got = closed_within(sock, limit=10, drip=head)
        assert took < 3 and got == b"", (took, got)
        # a body a byte every 0.1 s: 408 after about a second, then the connection is closed
        body = json.dumps({"text": LENET.read_text()}).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                f"POST /api/spec/check HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            took, got = closed_within(sock, limit=10, drip=body)
        assert took < 4 and got.startswith(b"HTTP/1.1 408 "), (took, got[:300])
        assert b"the body did not arrive within 1 s" in got, got
        # between requests on a kept-alive connection the same deadline holds: an answer, then silence, then closed
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(f"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            took, got = closed_within(sock, limit=10)
        assert got.startswith(b"HTTP/1.1 200 ") and took < 3, (took, got[:100])
        # a client that is not slow is served as ever
        status, data = server.post("/api/spec/check", {"text": LENET.read_text()})
        assert status == 200 and data["ok"]
        # and a body still arriving does not hold up SIGTERM: it is answered 503 at once
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                f"POST /api/spec/check HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
            )
            assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")  # the event: the app has begun to read the body
            sock.sendall(b"{")
            took, rc, err = server.signal_and_wait(signal.SIGTERM, limit=10)
            answer = sock.recv(65536)
        assert took < 1.0 and rc == 0 and err == "", (took, rc, err[-2000:])
        assert answer.startswith(b"HTTP/1.1 503 ") and b"the server is stopping" in answer, answer[:300]
    finally:
        server.kill()


def test_the_model_lane_answers_past_its_budget_and_on_stop():
    """The model's forward passes stay in the server (on a daemon thread): past the budget the request is answered
    422 without waiting for the pass, and stopping answers whoever waits."""
    import asyncio

    from archspec.tools.serve.limits import Refused
    from archspec.tools.serve.work import Lane

    release = threading.Event()

    def stuck(x: int) -> int:  # a forward pass that does not end (by itself) within the budget
        release.wait(30)
        return x

    async def scenario() -> list:
        lane = Lane(Budget(seconds=0.3, workers=1, waiting=2), "model")
        out = []
        for call in (lane.run(stuck, 1), lane.run(stuck, 2)):
            try:
                out.append(await call)
            except Refused as exc:
                out.append((exc.status, exc.message))
        release.set()
        assert await lane.run(lambda x: x * 2, 21) == 42  # the lane free again once the pass ended
        release.clear()
        waiting = asyncio.ensure_future(lane.run(stuck, 3))
        await asyncio.sleep(0)  # let it queue (an await, not a wait for time)
        lane.stop()
        try:
            await waiting
        except Refused as exc:
            out.append((exc.status, exc.message))
        release.set()
        return out

    first, second, stopped = asyncio.run(scenario())
    assert first[0] == 422 and "no answer after 0.3 s, the server's time budget for a model request" in first[1], first
    assert second[0] == 422, second  # queued behind the stuck pass
    assert stopped == (503, "the server is stopping"), stopped


def test_the_page_shows_a_check_past_its_budget_as_a_problem(chromium, spec_file, tmp_path):
    from browser import Browser
    from test_serve import edit, open_page

    server = BudgetServer(spec_file, "Budget(seconds=1.0)")
    try:
        with Browser(chromium, tmp_path / "profile") as browser:
            page = open_page(browser, f"http://127.0.0.1:{server.port}/")
            status = edit(page, page.evaluate("document.getElementById('editor').value"), EXPANSION)
            assert not status["ok"] and "not checked: stopped after 1 s" in status["problems"][0]["message"], status
            shown = page.evaluate("document.querySelector('#problems pre').textContent")
            assert "the server's time budget for a spec check" in shown and "archspec shapes" in shown
            assert page.evaluate("JSON.parse(document.getElementById('status').textContent).errors") == []
    finally:
        server.kill()


def test_workers_do_not_rerun_the_main_script(spec_file, tmp_path):
    """multiprocessing would import the parent's __main__ in each worker: a script on stdin cannot be imported, and
    a script without a main guard would run (and serve) again. The worker is started without it."""
    marker = tmp_path / "ran"
    script = (
        "import sys; from pathlib import Path; from starlette.testclient import TestClient\n"
        "from archspec.tools.serve.app import create_app; from archspec.tools.serve.run import views\n"
        f"Path({str(marker)!r}).open('a').write('x')  # once per run of this script\n"
        f"spec, _ = views(Path({str(spec_file)!r}))\n"
        "r = TestClient(create_app(spec, None), base_url='http://127.0.0.1').post('/api/spec/check', "
        "json={'text': spec.text})\n"
        "assert r.status_code == 200 and r.json()['ok'], r.text\n"
    )
    for how in ("stdin", "file"):
        marker.unlink(missing_ok=True)
        path = tmp_path / "unguarded.py"
        path.write_text(script)
        cmd = [sys.executable, "-"] if how == "stdin" else [sys.executable, str(path)]
        proc = subprocess.run(
            cmd,
            input=script if how == "stdin" else None,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 0, (how, proc.stderr[-2000:])
        assert marker.read_text() == "x", how  # the script ran once: not again in the worker


def test_a_worker_that_grew_is_replaced():
    """Python keeps memory it once allocated: a worker that grew past half its budget takes no more work."""
    import asyncio

    from archspec.tools.serve.limits import Refused
    from archspec.tools.serve.work import Pool

    async def scenario() -> tuple[set, str, set]:
        pool = Pool(Budget(memory=400 << 20, answer=1000, workers=1))
        try:
            assert await pool.run(str, "small") == b'"small"'
            before = {w.proc.pid for w in pool.idle}
            try:
                await pool.run("x".__mul__, 100_000_000)  # 100 MB of text, and its JSON: some 300 MB at the peak
                grown = "answered"
            except Refused as exc:
                grown = exc.message
            assert await pool.run(str, "again") == b'"again"'
            return before, grown, {w.proc.pid for w in pool.idle}
        finally:
            pool.stop()

    before, grown, after = asyncio.run(scenario())
    assert "the answer would be 95.4 MiB, over the server's budget of 1.0 KiB" in grown, grown
    assert before and after and before.isdisjoint(after), (before, after)


def test_a_model_job_finishing_after_the_server_stopped_is_dropped_quietly():
    """The server's event loop closed while a model job ran (Ctrl-C mid-request): its answer has nowhere to go, and
    the worker thread must end without an exception (it raised `RuntimeError: Event loop is closed`)."""
    import asyncio

    from archspec.tools.serve.work import Budget, Lane

    lane = Lane(Budget())
    loop = asyncio.new_event_loop()
    answer = loop.create_future()
    loop.close()
    lane.jobs.put((loop, answer, lambda: 42, ()))
    lane.jobs.put(None)
    lane._serve()  # returns once it reads the None that stops it
    assert not answer.done()
