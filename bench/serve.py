"""Update latency of `archspec serve`: an edit's spec check, and a drawing's prediction with feature maps.

    .venv/bin/python bench/serve.py                       # LeNet and ResNet-50 specs, a LeNet run trained here
    .venv/bin/python bench/serve.py -n 50 --run runs/lenet-...  --browser

Each server is the real `archspec serve ... --port 0` in a child process; requests go over one
keep-alive HTTP connection, as the page's do. Measured, median and 90th percentile of n:

- spec: POST /api/spec/check with the spec's text, its input's height changed on every request
  (H, H + 32, H, ...: what typing sends, every shape changing): validation, shapes, the table, the diagram's page;
- model: POST /api/model/look with a 28x28 test digit as PNG (an upload), and with a 28x28 RGBA
  PNG of a stroke (what the pad sends): decode, the model's plan, one forward pass, every feature
  map as PNG, inspect's figures.

Baseline in the same run: the same work called in this process (`SpecView.check`,
`ModelView.look`), so the difference is HTTP, JSON and the server; its CPU time is printed too, a
figure a busy machine inflates less than wall time (TensorFlow's own threads count in it). `--browser` also times the
page itself in headless Chromium (tests/browser.py): from the keystroke to the table and the diagram
redrawn (the iframe's load event), and from the end of a stroke to the probabilities and maps shown.
Target: under 100 ms per update for LeNet on the 2-core machine. The LeNet run is trained first
(1 epoch on 8,000 MNIST digits, about 20 s) unless --run names one.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _proc import ROOT, machine_note

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TARGET_MS = 100.0
SERVE = [sys.executable, "-c", "import sys; from archspec.cli import main; sys.exit(main(sys.argv[1:]))", "serve"]


class Server:
    def __init__(self, target: Path) -> None:
        self.proc = subprocess.Popen(
            [*SERVE, str(target), "--port", "0", "--read-only"], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 300)
        line = self.proc.stdout.readline() if ready else ""
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not found:
            self.proc.kill()
            raise SystemExit(f"the server did not start: {line!r}")
        self.url = found[0]
        self.conn = http.client.HTTPConnection("127.0.0.1", int(found[1]), timeout=120)

    def post(self, path: str, body: bytes, kind: str) -> dict:
        self.conn.request("POST", path, body=body, headers={"Content-Type": kind})
        response = self.conn.getresponse()
        data = json.loads(response.read())
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {data}")
        return data

    def close(self) -> None:
        self.conn.close()
        self.proc.terminate()
        self.proc.wait()


def stats(ms: list[float], in_process: bool = False) -> str:
    cpu = CPU.get(id(ms)) if in_process else None
    ms = sorted(ms)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms" + (
        f"   (CPU median {statistics.median(cpu):6.1f} ms)" if cpu else ""
    )


CPU: dict[int, list[float]] = {}
"""CPU milliseconds of this process for each list `timed` returned (by id): less sensitive to a busy machine than wall
time."""


def timed(fn, n: int, warm: int = 3) -> list[float]:
    for _ in range(warm):
        fn(0)
    out, cpu = [], []
    for k in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn(k + 1)
        out.append(1e3 * (time.perf_counter() - t))
        cpu.append(1e3 * (time.process_time() - c))
    CPU[id(out)] = cpu
    return out


def edited(text: str, k: int) -> str:
    """The spec with its input's height alternating between H and H + 32 (every shape changes, the spec stays valid)."""
    return re.sub(r"input: \[(\d+)", lambda m: f"input: [{int(m[1]) + 32 * (k % 2)}", text, count=1)


def bench_spec(spec: Path, n: int) -> dict[str, list[float]]:
    from archspec.tools.serve.spec_view import SpecView

    view = SpecView(spec)
    text = view.text
    local = timed(lambda k: view.check(edited(text, k), []), n)
    server = Server(spec)
    try:
        remote = timed(
            lambda k: server.post(
                "/api/spec/check", json.dumps({"text": edited(text, k)}).encode(), "application/json"
            ),
            n,
        )
    finally:
        server.close()
    return {"in process": local, "HTTP round trip": remote}


def digit_png(mnist: Path) -> bytes:
    import numpy as np

    from archspec.tools.inspection import png

    with gzip.open(mnist / "t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    return png(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[9000])


def stroke_png() -> bytes:
    """What the pad sends: 28x28 RGBA, a white vertical stroke on black (encoded by TensorFlow's PNG encoder)."""
    import numpy as np
    import tensorflow as tf

    image = np.zeros((28, 28, 4), np.uint8)
    image[..., 3] = 255
    image[5:23, 13:16, :3] = 255
    return tf.io.encode_png(image).numpy()


def bench_model(run: Path, images: dict[str, bytes], n: int) -> dict[str, list[float]]:
    from archspec.tools.serve.model_view import ModelView

    view = ModelView(run)
    out = {}
    for name, data in images.items():
        out[f"{name}: in process"] = timed(lambda k, data=data, name=name: view.look(data, name), n)
    server = Server(run)
    try:
        for name, data in images.items():
            out[f"{name}: HTTP round trip"] = timed(
                lambda k, data=data: server.post("/api/model/look", data, "image/png"), n
            )
    finally:
        server.close()
    return out


def bench_browser(specs: list[Path], run: Path, n: int) -> dict[str, list[float]]:
    """Keystroke -> table and diagram redrawn; end of a stroke -> answer shown: the page's own timings (status.specMs,
    modelMs)."""
    from browser import Browser

    from archspec.tools import draw

    out: dict[str, list[float]] = {}
    status = "JSON.parse(document.getElementById('status').textContent || '{}')"

    def after(count: str, settled: str, before: int) -> str:
        return f"(function () {{ var s = {status}; return s.{count} > {before} && s.{settled} && s; }})()"

    with tempfile.TemporaryDirectory() as tmp, Browser(draw.chromium(), Path(tmp) / "profile") as browser:
        for spec in specs:
            server = Server(spec)
            try:
                page = browser.new_page()
                page.goto(server.url)
                page.wait_for(f"{status}.spec >= 1", "archspec:spec")
                times, tables = [], []
                for k in range(n + 3):  # the first three are not timed
                    at = page.evaluate("document.getElementById('editor').value.search(/input: \\[\\d/)") + len(
                        "input: ["
                    )
                    value = page.evaluate(f"parseInt(document.getElementById('editor').value.slice({at}), 10)")
                    digits = len(str(value))
                    page.evaluate(
                        "(function () "
                        f"{{ var e = document.getElementById('editor'); e.focus(); e.setSelectionRange({at}, "
                        f"{at + digits}); }})()"
                    )
                    before = page.evaluate(f"{status}.spec")
                    page.insert_text(str(value + 32 if k % 2 == 0 else value - 32))
                    detail = page.wait_for(after("spec", "specSettled", before), "archspec:spec")
                    if not detail["ok"]:
                        raise SystemExit(f"{spec}: the edit made the spec invalid: {detail['problems']}")
                    if k >= 3:
                        times.append(float(detail["specMs"]))
                        tables.append(float(detail["tableMs"]))
                out[f"{spec.stem}: keystroke -> table"] = tables
                out[f"{spec.stem}: keystroke -> table + diagram"] = times
                page.close()
            finally:
                server.close()
        server = Server(run)
        try:
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for(f"{status}.ready", "archspec:ready")
            x, y, w, h = page.evaluate(
                "(function () "
                "{ var r = document.getElementById('pad').getBoundingClientRect(); return [r.left, r.top, r.width, "
                "r.height]; })()"
            )
            times = []
            for k in range(n + 3):
                page.evaluate("document.getElementById('clear').click()")
                page.mouse("mousePressed", x + w * 0.5, y + h * 0.2)
                before = page.evaluate(f"{status}.model")
                page.mouse("mouseReleased", x + w * 0.5, y + h * 0.8, buttons=0)
                detail = page.wait_for(after("model", "modelSettled", before), "archspec:model")
                if k >= 3:
                    times.append(float(detail["modelMs"]))
            out["lenet run: end of stroke -> answer and maps shown"] = times
        finally:
            server.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="timed requests per case (after 3 untimed)")
    parser.add_argument("--specs", default="specs/lenet.yaml,specs/resnet50.yaml", help="comma-separated specs")
    parser.add_argument("--run", type=Path, help="a LeNet run folder (default: train one here, 1 epoch)")
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    args = parser.parse_args()
    print(machine_note())
    for spec in args.specs.split(","):
        for what, ms in bench_spec(ROOT / spec, args.n).items():
            print(f"spec  {Path(spec).stem:>10}  {what:<28} {stats(ms, what == 'in process')}")
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            import archspec

            t = time.perf_counter()
            run = archspec.train(
                ROOT / "specs" / "lenet.yaml",
                data=f"idx:{args.mnist}[:8000]",
                epochs=1,
                training={"seed": 1, "learning_rate": 3e-3},
                run_dir=Path(tmp) / "run",
                verbose=0,
            ).run_dir
            print(f"(trained a LeNet run in {time.perf_counter() - t:.1f} s)")
        rows = bench_model(
            run, {"test digit 28x28 grey": digit_png(args.mnist), "pad stroke 28x28 RGBA": stroke_png()}, args.n
        )
        for what, ms in rows.items():
            print(f"model lenet  {what:<42} {stats(ms, what.endswith('in process'))}")
        if args.browser:
            for what, ms in bench_browser([ROOT / spec for spec in args.specs.split(",")], run, args.n).items():
                print(f"page  {what:<52} {stats(ms)}")
    print(f"target: under {TARGET_MS:.0f} ms per update for LeNet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
