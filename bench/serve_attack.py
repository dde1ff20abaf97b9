"""`archspec serve` under load and attack, on 127.0.0.1 only, bounded in time: does the page's own client still get
answers?

    .venv/bin/python bench/serve_attack.py                 # about a minute
    .venv/bin/python bench/serve_attack.py --seconds 30 --slow 200

The server is the real `archspec serve specs/lenet.yaml --read-only --port 0` in a child process, as the CLI starts it.
A "page" client checks LeNet's spec over one keep-alive connection, one request at a time, its input height changed on
every edit, waiting the server's retry_after_ms on a 429 as the page does; the time from sending an edit to its 200 is
its latency (retries included). First alone (the baseline, same run), then for --seconds while, all at once:

- burst: 200 checks of LeNet at once, each on its own connection, again every 5 s;
- expansions: 41 checks of a 103-byte spec that expands to 65,536 layers (10 s of CPU and a 65 MB answer each), again
  every 5 s;
- slow clients: --slow connections sending request headers a byte every 0.5 s, and 20 sending a body that way;
- injection: checks of a spec whose keys, names and values carry markup (the DOM side is tests/test_serve_dom.py).

With --model the server serves a LeNet run trained here (one epoch on 2,000 digits, in a child process), a second client
sends a test digit to the model pane the same way, and each wave adds 100 looks at once and 30 image bombs (10 each of a
PNG declaring 30,000 x 30,000 pixels, a 34-byte WebP declaring 16,383 x 16,383, and a 5,000 x 5,000 JPEG whose size
hides behind 0xFF fill bytes: tests/hostile.py makes them), each to be refused from its header.

Printed: each page client's p50 / p99 / max latency alone and under attack, every other request's answers by status,
whether slow connections were closed, the server's peak memory (its own VmHWM, and the peak sum of RSS over the server
and its worker processes, sampled every 0.2 s), and how long SIGTERM took to stop it under the attack.
Targets: the page client's p99 under attack below 5 s with no failed edit; SIGTERM under 1 s.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _proc import ROOT, child_env, machine_note, target

sys.path.insert(0, str(ROOT / "tests"))
import hostile

BOMBS = (
    hostile.png_declaring(30_000, 30_000),
    hostile.webp_declaring(16_383, 16_383),
    hostile.jpeg_declaring(5_000, 5_000, fill=3),
)
"""Images whose headers declare far more pixels than the server decodes (its limit is 4096 x 4096)."""

SERVE = [sys.executable, "-c", "import sys; from archspec.cli import main; sys.exit(main(sys.argv[1:]))", "serve"]
EXPANSION = "name: r\ninput: [8, 8, 1]\nlayers:\n  - repeat: {times: 65536, layers: [{conv: {depth: 1, kernel: 1}}]}\n"
MARKUP = 'a" onmouseover="alert(1)" x="<img src=x onerror=alert(2)><script>alert(3)</script>'


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def injections(lenet: str) -> list[str]:
    return [
        lenet.replace("  - flatten", f"  - flatten: {{{quoted(MARKUP)}: 1}}", 1),
        lenet.replace("  - flatten", f"  - flatten: {{name: {quoted(MARKUP)}}}", 1),
        lenet.replace(
            "variables: {classes: 10}", f"variables: {{classes: 10, {quoted('v' + MARKUP)}: {quoted(MARKUP)}}}", 1
        ),
        lenet.replace("activation: softmax", f"activation: {quoted(MARKUP)}", 1),
    ]


class Server:
    def __init__(self, spec: Path, log: Path) -> None:
        self.log = log  # a file: a pipe nobody reads would fill and stop the server
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [*SERVE, str(spec), "--read-only", "--port", "0"],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=ROOT,
                env=child_env(),
            )
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if ready else ""
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not found:
            self.proc.kill()
            raise SystemExit(f"the server did not start: {line!r}")
        self.port = int(found[1])

    def tree_rss(self) -> int:
        """KiB of RSS of the server and every process below it (its worker processes and their fork server)."""
        pids, total = [self.proc.pid], 0
        while pids:
            pid = pids.pop()
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    pids += [int(p) for p in f.read().split()]
            except (OSError, ValueError):
                pass
        return total

    def hwm(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def post(
    port: int,
    text: str,
    conn: http.client.HTTPConnection | None = None,
    timeout: float = 60,
    path: str = "/api/spec/check",
    body: bytes | None = None,
    kind: str = "application/json",
) -> tuple[int, dict]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps({"text": text}).encode() if body is None else body,
            headers={"Content-Type": kind},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        if own:
            conn.close()


class Page(threading.Thread):
    """The page's client: one edit at a time over one connection; 429: wait as told, send again.
    With `image`, the model pane's instead: the same drawing sent again and again."""

    def __init__(self, port: int, lenet: str, until: threading.Event, image: bytes | None = None) -> None:
        super().__init__(daemon=True)
        self.port, self.lenet, self.until, self.image = port, lenet, until, image
        self.latencies: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        k = 0
        while not self.until.is_set():
            k += 1
            text = self.lenet.replace("input: [32, 32, 1]", f"input: [{32 + 4 * (k % 2)}, 32, 1]")
            t0 = time.monotonic()
            while True:
                try:
                    status, data = (
                        post(self.port, text, conn)
                        if self.image is None
                        else post(self.port, "", conn, path="/api/model/look", body=self.image, kind="image/png")
                    )
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    status, data = 0, {"error": repr(exc)}
                if status == 429:
                    self.until.wait(
                        data.get("retry_after_ms", 1000) / 1000
                    )  # as the page waits; also ends with the run
                    if self.until.is_set():
                        return
                    continue
                break
            if status == 200 and (data.get("ok") or self.image is not None):
                self.latencies.append(time.monotonic() - t0)
            else:
                self.failures.append(f"{status} {str(data.get('error'))[:100]}")
        conn.close()


def fire(
    port: int, texts: list[str], counts: collections.Counter, lock: threading.Lock, image: bytes | None = None
) -> list[threading.Thread]:
    def one(text: str) -> None:
        try:
            status, _ = (
                post(port, text, timeout=120)
                if image is None
                else post(port, "", timeout=120, path="/api/model/look", body=image, kind="image/png")
            )
        except (OSError, http.client.HTTPException):
            status = 0
        with lock:
            counts[status] += 1

    threads = [threading.Thread(target=one, args=(t,), daemon=True) for t in texts]
    for t in threads:
        t.start()
    return threads


def slow(
    port: int, n: int, body: bool, closed: collections.Counter, lock: threading.Lock, until: threading.Event
) -> None:
    """`n` connections dripping a byte every 0.5 s: headers (a slowloris), or a declared body; counts the ones the
    server closed."""
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            with lock:
                closed["refused"] += 1
            continue
        if body:
            s.sendall(
                f"POST /api/spec/check HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                "application/json\r\nContent-Length: 100000\r\n\r\n".encode()
            )
        socks.append(s)
    drip = f"POST /api/spec/check HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Pad: ".encode() + b"a" * 10_000
    sent = 0
    while socks and not until.is_set():
        readable, _, _ = select.select(socks, [], [], 0.5)  # the drip's pace; a readable socket is an answer or a close
        for s in readable:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data or data.startswith(b"HTTP/1.1 408"):
                with lock:
                    closed["body 408/closed" if body else "headers closed"] += 1
                socks.remove(s)
                s.close()
        for s in list(socks):
            try:
                s.send(b"x" if body else drip[sent : sent + 1])
            except OSError:
                with lock:
                    closed["body closed" if body else "headers closed"] += 1
                socks.remove(s)
                s.close()
        sent += 1
    with lock:
        closed["still open at the end (body)" if body else "still open at the end (headers)"] += len(socks)
    for s in socks:
        s.close()


def pct(xs: list[float], q: float) -> float:
    return (
        statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else (xs[0] if xs else float("nan"))
    )


def train_run(folder: Path, mnist: Path) -> Path:
    """A LeNet run (one epoch on 2,000 MNIST digits) trained in a child process: TensorFlow stays out of this one."""
    run = folder / "run"
    code = (
        f"import archspec; archspec.train({str(ROOT / 'specs' / 'lenet.yaml')!r}, data={f'idx:{mnist}[:2000]'!r}, "
        "epochs=1, training={'seed': 1}, "
        f"run_dir={str(run)!r}, verbose=0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=child_env(), capture_output=True)
    return run


def digit_png(mnist: Path) -> bytes:
    import gzip

    import numpy as np

    from archspec.tools.inspection import png

    with gzip.open(mnist / "t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    return png(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[9000])


def measure_alone(port: int, lenet: str, image: bytes | None, n: int) -> list[float]:
    alone = threading.Event()
    page = Page(port, lenet, alone, image)
    page.start()
    while len(page.latencies) + len(page.failures) < n and page.is_alive():
        alone.wait(0.05)  # a poll of a counter, bounded by the client's own pace
    alone.set()
    page.join(60)
    return page.latencies


def line(name: str, base: list[float], page: Page) -> str:
    lat = page.latencies
    return (
        f"{name} alone:        {len(base)} requests, p50 {1000 * pct(base, 50):.0f} ms, p99 {1000 * pct(base, 99):.0f} "
        "ms, "
        f"max {1000 * max(base):.0f} ms\n"
        f"{name} under attack: {len(lat)} requests, p50 {1000 * pct(lat, 50):.0f} ms, p99 {1000 * pct(lat, 99):.0f} "
        "ms, "
        f"max {1000 * max(lat):.0f} ms, failed {len(page.failures)} {page.failures[:3]}; "
        f"ratio p50 {pct(lat, 50) / pct(base, 50):.1f}x, p99 {pct(lat, 99) / pct(base, 99):.1f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the attack")
    ap.add_argument("--baseline", type=int, default=40, help="requests each page client makes alone first")
    ap.add_argument("--slow", type=int, default=100, help="slow-header connections")
    ap.add_argument(
        "--model",
        action="store_true",
        help="serve a LeNet run trained here: the model pane's client too, and look floods",
    )
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    args = ap.parse_args()
    print(machine_note())
    lenet = (ROOT / "specs" / "lenet.yaml").read_text()
    with tempfile.TemporaryDirectory(prefix="archspec-attack-") as tmp:
        spec = Path(tmp) / "lenet.yaml"
        shutil.copy(ROOT / "specs" / "lenet.yaml", spec)
        image = digit_png(args.mnist) if args.model else None
        server = Server(train_run(Path(tmp), args.mnist) if args.model else spec, log=Path(tmp) / "server.log")
        peak = [server.tree_rss()]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.2):  # a measurement's pace, not a synchronisation
                peak.append(server.tree_rss())

        threading.Thread(target=sample, daemon=True).start()
        try:
            for _ in range(3):  # untimed: the first check waits for the fork server to import the checker
                post(server.port, lenet)
            kinds = {"spec client": None, **({"model client": image} if image else {})}
            base = {name: measure_alone(server.port, lenet, img, args.baseline) for name, img in kinds.items()}
            # the attack
            counts: collections.Counter = collections.Counter()
            closed: collections.Counter = collections.Counter()
            lock = threading.Lock()
            until = threading.Event()
            page_until = threading.Event()
            pages = {name: Page(server.port, lenet, page_until, img) for name, img in kinds.items()}
            for p in pages.values():
                p.start()
            slowers = [
                threading.Thread(target=slow, args=(server.port, args.slow, False, closed, lock, until), daemon=True),
                threading.Thread(target=slow, args=(server.port, 20, True, closed, lock, until), daemon=True),
            ]
            for t in slowers:
                t.start()
            t0, waves, shots = time.monotonic(), 0, []
            while time.monotonic() - t0 < args.seconds:
                waves += 1
                shots += fire(server.port, [lenet] * 200 + [EXPANSION] * 41 + injections(lenet) * 5, counts, lock)
                if image:
                    shots += fire(server.port, [""] * 100, counts, lock, image)
                    for bomb in BOMBS:
                        shots += fire(server.port, [""] * 10, counts, lock, bomb)
                until.wait(5.0)  # the next wave's pace
            page_until.set()
            for p in pages.values():
                p.join(60)  # its last request answered: what follows is the server going away, not its latency
            hwm = server.hwm()
            stop_t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)  # under the attack still under way
            try:
                server.proc.wait(timeout=30)
                stop = time.monotonic() - stop_t0
            except subprocess.TimeoutExpired:
                stop = float("inf")
            until.set()
            for t in [*slowers, *shots]:
                t.join(30)
        finally:
            sampling.set()
            if server.proc.poll() is None:
                server.proc.kill()
            log = server.log.read_text(errors="replace").splitlines()
    for name, page in pages.items():
        print(line(name, base[name], page))
    print(
        f"attack: {waves} waves of 200 checks + 41 expansions + 20 "
        f"injections{' + 100 looks + 30 image bombs' if image else ''}; "
        f"answers by status: {dict(sorted(counts.items()))}"
    )
    print(f"slow connections ({args.slow} headers, 20 bodies, a byte every 0.5 s): {dict(closed)}")
    print(
        f"server memory: peak RSS of the server and its workers {max(peak) / 1024:.0f} MiB (sampled every 0.2 s)"
        + f"; the server process's own VmHWM {hwm / 1024:.0f} MiB"
    )
    print(
        f"SIGTERM under attack: stopped in {stop:.2f} s (exit status {server.proc.returncode}); "
        f"the server's log: {len(log)} lines{', tracebacks!' if any('Traceback' in entry for entry in log) else ''}"
    )
    for entry, n in collections.Counter(e[:90] for e in log if e and not e.startswith((" ", "Traceback"))).most_common(
        4
    ):
        print(f"  log: {n} x {entry}")
    for name, page in pages.items():
        lat = page.latencies
        ok = bool(lat) and not page.failures and pct(lat, 99) < 5.0
        target(
            f"serve under attack: {name}'s p99",
            f"{1000 * pct(lat, 99):.0f} ms (alone {1000 * pct(base[name], 99):.0f} ms)",
            ok=ok,
        )
    target("serve: SIGTERM under attack", f"{stop:.2f} s", ok=stop < 1.0)
    sys.stdout.flush()
    os._exit(0)  # the attack's daemon threads may still hold sockets: nothing to wait for


if __name__ == "__main__":
    main()
