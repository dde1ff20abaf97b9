"""archspec serve: the API through Starlette's test client, then the page in a real headless Chromium.

The spec pane needs no TensorFlow; the model pane is checked on a LeNet trained here for one epoch
on the first 8,000 digits of the genuine MNIST test set (module fixture). The browser tests drive
Chromium over the DevTools protocol (tests/browser.py) and wait on the page's own events. The documentation's
pictures of the live view and of `archspec inspect` (tests/docpictures.py, which the site's build runs) are made
here of the same run, checked, and left under build/serve/.
"""

from __future__ import annotations

import json
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="archspec[serve] not installed")
pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2")

import docpictures
from browser import Browser
from conftest import ROOT
from docpages import pages
from docpictures import STATUS, edit, open_page, upload  # the page helpers the docs' pictures are made with
from starlette.testclient import TestClient

import archspec
from archspec.cli import main
from archspec.tools.elements import to_html
from archspec.tools.serve.app import create_app
from archspec.tools.serve.limits import IMAGE_BODY, SPEC_BODY
from archspec.tools.serve.run import views

LENET = ROOT / "specs" / "lenet.yaml"
SHOTS = ROOT / "build" / "serve"
BASE = "http://127.0.0.1"


def client_for(path: Path, **kwargs) -> TestClient:
    spec, model = views(path, read_only=kwargs.pop("read_only", False), sets=kwargs.pop("sets", ()))
    return TestClient(create_app(spec, model, **kwargs), base_url=BASE)


def cli_errors(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `archspec validate` prints for a file (its exit status must be 2)."""
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    return capsys.readouterr().err.rstrip("\n")


# -- the spec pane's API ---------------------------------------------------------------------
def test_check_round_trip(spec_file):
    client = client_for(spec_file)
    session = client.get("/api/session").json()
    assert (
        session["model"] is None
        and session["spec"]["text"] == LENET.read_text()
        and session["spec"]["read_only"] is None
    )
    text = session["spec"]["text"]
    answer = client.post("/api/spec/check", json={"text": text}).json()
    assert answer["ok"] and answer["table"]["rows"][0][:3] == ["conv_1", "conv 5x5 relu", "28x28x6"]
    assert answer["table"]["footer"][3] == "63,802" and answer["variables"] == {"classes": "10"}
    assert 'id="data"' in answer["diagram"] and ">conv_1<" in answer["diagram"]  # archspec draw's page
    wider = client.post("/api/spec/check", json={"text": text.replace("depth: 6", "depth: 8")}).json()
    assert wider["table"]["rows"][0][2] == "28x28x8" and "28×28×8" in wider["diagram"]
    # the variables selector: --set's rules, located at the option when wrong
    more = client.post("/api/spec/check", json={"text": text, "sets": ["classes=12"]}).json()
    assert more["table"]["rows"][-1][2] == "12"
    bad = client.post("/api/spec/check", json={"text": text, "sets": ["classes"]}).json()
    assert not bad["ok"] and bad["problems"][0]["message"].startswith("--set: expected KEY=VALUE")


def test_errors_are_located_and_read_as_the_cli_prints_them(spec_file, capsys):
    client = client_for(spec_file)
    lines = LENET.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "depth: 16" in line)
    lines[at] = lines[at].replace("kernel: 5", "kernal: 5")
    text = "".join(lines)
    answer = client.post("/api/spec/check", json={"text": text}).json()
    assert not answer["ok"]
    (problem,) = answer["problems"]
    assert (problem["line"], problem["column"], problem["path"]) == (
        at + 1,
        lines[at].index("kernal") + 1,
        "layers[2].conv.kernal",
    )
    assert problem["summary"] == "unknown key 'kernal'"
    spec_file.write_text(text)
    assert problem["message"] == cli_errors(spec_file, capsys)
    assert "hint: did you mean 'kernel'?" in problem["message"]
    # a shape error (a 15x15 window on a 14x14 map), on the line of the layer it belongs to
    text = text.replace("kernal: 5", "kernel: 15")
    answer = client.post("/api/spec/check", json={"text": text}).json()
    (problem,) = answer["problems"]
    assert problem["line"] == at + 1 and "15" in problem["summary"], problem
    spec_file.write_text(text)
    assert problem["message"] == cli_errors(spec_file, capsys)
    # YAML that does not parse: its line and column, the same message too
    broken = LENET.read_text().replace("layers:\n", "layers:\n  - conv: {depth: 6\n", 1)
    answer = client.post("/api/spec/check", json={"text": broken}).json()
    assert answer["problems"][0]["line"] is not None and answer["variables"] is None
    spec_file.write_text(broken)
    assert "\n".join(p["message"] for p in answer["problems"]) == cli_errors(spec_file, capsys)


def test_save_writes_only_its_own_file_atomically(spec_file):
    client = client_for(spec_file)
    version = client.get("/api/session").json()["spec"]["version"]
    new = LENET.read_text().replace("depth: 6", "depth: 8")
    answer = client.post("/api/spec/save", json={"text": new, "version": version})
    assert answer.status_code == 200, answer.text
    assert spec_file.read_text() == new and sorted(p.name for p in spec_file.parent.iterdir()) == [
        "lenet.yaml"
    ]  # no temporary left
    # a save from a page that loaded an older version is refused: the file changed since
    stale = client.post("/api/spec/save", json={"text": "name: x\n", "version": version})
    assert stale.status_code == 409 and "changed on disk" in stale.json()["error"] and spec_file.read_text() == new
    # so is a change made on disk by someone else
    spec_file.write_text(LENET.read_text())
    again = client.post("/api/spec/save", json={"text": new, "version": answer.json()["version"]})
    assert again.status_code == 409 and spec_file.read_text() == LENET.read_text()
    # --read-only
    locked = client_for(spec_file, read_only=True)
    session = locked.get("/api/session").json()["spec"]
    assert session["read_only"] == "started with --read-only"
    refused = locked.post("/api/spec/save", json={"text": "name: x\n", "version": session["version"]})
    assert (
        refused.status_code == 403
        and refused.json()["error"].startswith("not saved")
        and spec_file.read_text() == LENET.read_text()
    )


def test_bad_requests_are_answered_in_json(spec_file):
    client = client_for(spec_file)
    text = LENET.read_text()

    def refused(response, status: int, words: str) -> None:
        assert response.status_code == status, (response.status_code, response.text)
        assert response.headers["content-type"] == "application/json" and words in response.json()["error"], (
            response.text
        )
        assert "Traceback" not in response.text

    refused(client.get("/no/such/page"), 404, "no such page")
    refused(client.get("/api/spec/check"), 405, "GET is not allowed")
    refused(
        client.post("/api/spec/check", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "malformed JSON",
    )
    refused(
        client.post("/api/spec/check", content=b"\xff\xfe", headers={"content-type": "application/json"}),
        400,
        "not UTF-8",
    )
    refused(client.post("/api/spec/check", json=["a list"]), 400, "expected a JSON object")
    refused(client.post("/api/spec/check", json={"text": 5}), 400, "wrong type")
    refused(client.post("/api/spec/check", json={"text": text, "sets": [1]}), 400, "list of strings")
    refused(client.post("/api/spec/check", json={}), 400, "missing field 'text'")
    refused(
        client.post("/api/spec/check", content=json.dumps({"text": text}), headers={"content-type": "text/plain"}),
        415,
        "Content-Type",
    )
    refused(
        client.post("/api/spec/check", content=b"[" * 100_000, headers={"content-type": "application/json"}),
        400,
        "JSON",
    )
    # oversized: refused by its declared length, and by what arrives when no length is declared
    big = json.dumps({"text": "#" * SPEC_BODY}).encode()
    refused(
        client.post("/api/spec/check", content=big, headers={"content-type": "application/json"}), 413, "larger than"
    )
    refused(
        client.post(
            "/api/spec/check",
            content=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]),
            headers={"content-type": "application/json"},
        ),
        413,
        "larger than",
    )
    refused(
        client.post("/api/model/look", content=b"x", headers={"content-type": "image/png"}),
        404,
        "without a trained model",
    )
    # another site's page, and a name that is not this server's (DNS rebinding), are turned away
    refused(
        client.post("/api/spec/save", json={"text": "x", "version": "0"}, headers={"origin": "http://evil.example"}),
        403,
        "cross-site",
    )
    refused(client.get("/api/session", headers={"host": "evil.example"}), 400, "unexpected Host")
    assert spec_file.read_text() == text


def test_rate_of_expensive_calls_is_limited(spec_file):
    client = client_for(spec_file, rates={"check": (1.0, 2)})
    answers = [client.post("/api/spec/check", json={"text": "name: x\n"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "too many" in answers[2].json()["error"] and int(answers[2].headers["retry-after"]) >= 1


def test_no_path_reaches_the_file_system(spec_file, tmp_path):
    client = client_for(spec_file)
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    version = client.get("/api/session").json()["spec"]["version"]
    attempts = [
        client.get("/assets/..%2F..%2F..%2Fpyproject.toml"),
        client.get("/assets/../app.py"),
        client.get("/assets/%2e%2e/page.py"),
        client.get(f"/assets/{secret}"),
        client.get("/assets/serve.js%00.py"),
        client.get("/../../etc/passwd"),
        client.get(f"/api/session?path={secret}&spec={secret}"),
        client.post("/api/spec/check", json={"text": "name: x\n", "path": str(secret)}),
        client.post("/api/spec/save", json={"text": "pwned", "version": version, "path": str(secret)}),
        client.post("/api/spec/save", json={"text": "pwned", "version": version, "file": "../secret.txt"}),
    ]
    for response in attempts:
        assert "the secret" not in response.text and "[project]" not in response.text and "def " not in response.text
        assert response.status_code in (200, 400, 404), (response.status_code, response.text)
    assert client.get(f"/api/session?path={secret}").json()["spec"]["name"] == str(spec_file)
    assert secret.read_text() == "the secret" and spec_file.read_text() == LENET.read_text()
    assert client.get("/assets/serve.js").status_code == 200


def test_page_and_headers(spec_file):
    client = client_for(spec_file)
    page = client.get("/")
    assert page.status_code == 200 and "<textarea" in page.text and '<canvas id="pad"' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "unsafe-eval" not in policy
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text), (
        "the page must not load anything from elsewhere"
    )
    script = client.get("/assets/serve.js").text
    assert "eval(" not in script and "new Function" not in script


def test_internal_errors_are_json_without_a_traceback(spec_file, monkeypatch):
    spec, _ = views(spec_file)
    monkeypatch.setattr(
        spec, "job", lambda text, sets: (int, ("boom",))
    )  # the worker process raises ValueError("... 'boom'")
    client = TestClient(create_app(spec, None), base_url=BASE, raise_server_exceptions=False)
    answer = client.post("/api/spec/check", json={"text": "x"})
    assert answer.status_code == 500 and answer.json()["error"].startswith("internal error (ValueError)")
    assert "boom" not in answer.text and "Traceback" not in answer.text


def test_a_bad_target_or_set_stops_before_serving(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert main(["serve", str(tmp_path / "notes.txt")]) == 2
    assert "not a spec, a run folder or a .keras file" in capsys.readouterr().err
    assert main(["serve", str(LENET), "--set", "classes"]) == 2
    assert "--set: expected KEY=VALUE" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        assert main(["serve", str(LENET), "--port", str(busy.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert "cannot listen on 127.0.0.1" in err and "--port" in err and "Traceback" not in err


def test_the_spec_pane_needs_no_tensorflow(spec_file):
    code = (
        "import sys; from starlette.testclient import TestClient; from archspec.tools.serve.app import create_app; "
        "from archspec.tools.serve.run import views; "
        f"spec, model = views(__import__('pathlib').Path({str(spec_file)!r})); "
        "c = TestClient(create_app(spec, model), base_url='http://127.0.0.1'); "
        "r = c.post('/api/spec/check', json={'text': spec.text}).json(); assert r['ok'], r; "
        "heavy = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]; assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]


# -- the server as a process ------------------------------------------------------------------
SERVE = [sys.executable, "-c", "import sys; from archspec.cli import main; sys.exit(main(sys.argv[1:]))", "serve"]


class Server:
    """`archspec serve ... --port 0` in a child process; its URL is read from what it prints."""

    def __init__(self, *args: str, timeout: float = 180) -> None:
        self.proc = subprocess.Popen(
            [*SERVE, *args, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        if not found:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {line!r} {self.proc.stderr.read()[-3000:]}")
        self.url = found[1]

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, as a person would: (exit status, the rest of stdout, stderr); ``stopped_in``: the seconds it took."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=60)
            self.stopped_in = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"Ctrl-C did not stop the server: {err[-2000:]}") from None
        return self.proc.returncode, out, err


def test_cli_prints_its_url_serves_and_stops_cleanly_on_ctrl_c(spec_file):
    server = Server(str(spec_file), "--read-only")
    with urllib.request.urlopen(server.url + "api/session", timeout=30) as response:
        answer = json.load(response)
    assert answer["spec"]["read_only"] == "started with --read-only"
    rc, out, err = server.stop()
    assert rc == 0 and out.strip() == "stopped" and "Traceback" not in err, (rc, out, err)


# -- the model pane's API ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def lenet_run(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LeNet after one epoch on the first 8,000 digits (seeded): the run the docs' pictures are made of."""
    return docpictures.trained(mnist_dir, tmp_path_factory.mktemp("serve") / "run")


def test_model_look_is_predict_through_the_same_plan_with_inspect_figures(lenet_run, digits):
    client = client_for(lenet_run)
    session = client.get("/api/session").json()
    model = session["model"]
    assert model["canvas"] == [28, 28, 1] and model["input_shape"] == [32, 32, 1] and model["classes"] == 10
    assert 'data-layer="conv_1" data-filters="6"' in to_html(model["filters"])
    assert session["spec"]["read_only"].startswith("the run folder's spec.yaml")  # the run's record is not edited
    for path, label in digits:
        answer = client.post("/api/model/look", content=path.read_bytes(), headers={"content-type": "image/png"})
        assert answer.status_code == 200, answer.text
        seen = answer.json()
        (prediction,) = archspec.predict(lenet_run, path)
        assert seen["plan"] == prediction.preprocessing == "28x28x1 -> zero-pad 2 px -> 32x32x1, x1/255"
        assert seen["probabilities"] == pytest.approx(prediction.probabilities.tolist(), abs=1e-5)
        assert seen["top"]["class"] == label == prediction.label
        for layer, maps, tile in (
            ("conv_1", 6, "28x28"),
            ("pool_1", 6, "14x14"),
            ("conv_2", 16, "10x10"),
            ("pool_2", 16, "5x5"),
        ):
            assert re.search(
                f'data-layer="{layer}" data-maps="{maps}" data-channels="{maps}" data-grid="\\d+x\\d+" '
                f'data-tile="{tile}"',
                to_html(seen["maps"]),
            )
        assert f'<tr class="top" data-class="{label}">' in to_html(seen["table"])
    saved = client.post("/api/spec/save", json={"text": "name: x\n", "version": session["spec"]["version"]})
    assert saved.status_code == 403 and (lenet_run / "spec.yaml").read_text() == session["spec"]["text"]


def test_model_refuses_what_is_not_an_image(lenet_run):
    client = client_for(lenet_run)
    not_image = client.post(
        "/api/model/look", content=b"plain text, not an image", headers={"content-type": "image/png"}
    )
    assert not_image.status_code == 422 and "not an image" in not_image.json()["error"]
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (60000).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"
    bomb = client.post("/api/model/look", content=huge, headers={"content-type": "image/png"})
    assert bomb.status_code == 422 and "60000x60000 pixels; the limit is" in bomb.json()["error"]
    empty = client.post("/api/model/look", content=b"", headers={"content-type": "image/png"})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    typed = client.post("/api/model/look", content=b"x", headers={"content-type": "text/html"})
    assert typed.status_code == 415
    big = client.post("/api/model/look", content=b"\0" * (IMAGE_BODY + 1), headers={"content-type": "image/png"})
    assert big.status_code == 413


def test_a_keras_file_without_its_run_folder_has_no_spec_pane(lenet_run, digits, tmp_path):
    alone = tmp_path / "lenet.keras"
    shutil.copy(lenet_run / "model.keras", alone)
    client = client_for(alone)
    assert client.get("/api/session").json()["spec"] is None
    assert client.post("/api/spec/check", json={"text": "x"}).status_code == 404
    path, label = digits[0]
    answer = client.post("/api/model/look", content=path.read_bytes(), headers={"content-type": "image/png"}).json()
    assert answer["top"]["class"] == label  # training.data's defaults are the run's here


# -- in a browser ------------------------------------------------------------------------------
def test_spec_pane_in_chromium(chromium, spec_file, tmp_path, capsys):
    server = Server(str(spec_file))
    try:
        with Browser(chromium, tmp_path / "profile") as browser:
            page = open_page(browser, server.url)
            assert page.evaluate(f"{STATUS}.firstRow[2]") == "28x28x6"
            status = edit(page, "depth: 6", "depth: 8")
            assert status["ok"] and status["firstRow"][:3] == ["conv_1", "conv 5x5 relu", "28x28x8"]
            cells = page.evaluate(
                "Array.prototype.map.call(document.querySelectorAll('#shapes tbody tr:first-child td'), function (c) "
                "{ return c.textContent; })"
            )
            assert cells[:3] == ["conv_1", "conv 5x5 relu", "28x28x8"]
            diagram = page.evaluate(
                "document.getElementById('diagram').contentDocument.getElementById('status').textContent"
            )
            assert json.loads(diagram)["ready"]  # archspec draw's page ran in the frame
            assert page.evaluate(
                "document.getElementById('diagram').contentDocument.getElementById('net')"
                ".textContent.indexOf('28×28×8') >= 0"
            )
            # the variables' selector: what --set classes=12 would give
            page.evaluate("document.querySelector('#variables input[data-var=classes]').focus()")
            page.arm("archspec:spec")
            page.insert_text("12")
            page.wait("archspec:spec")
            assert (
                page.evaluate("document.querySelector('#shapes tbody tr:last-child td:nth-child(3)').textContent")
                == "12"
            )
            page.arm("archspec:spec")
            page.evaluate(
                "(function (e) "
                "{ e.value = ''; e.dispatchEvent(new Event('input')); })(document.querySelector('#variables "
                "input[data-var=classes]'))"
            )
            page.wait("archspec:spec")
            assert (
                page.evaluate("document.querySelector('#shapes tbody tr:last-child td:nth-child(3)').textContent")
                == "10"
            )

            # a typo: marked at its line, the CLI's message beside it
            status = edit(
                page, "kernel: 5, activation: relu}     # 10x10x16", "kernal: 5, activation: relu}     # 10x10x16"
            )
            line = next(i + 1 for i, text in enumerate(spec_file.read_text().splitlines()) if "depth: 16" in text)
            assert not status["ok"] and [p["line"] for p in status["problems"]] == [line]
            marked = page.evaluate(
                "Array.prototype.map.call(document.querySelectorAll('#gutter .bad'), function (s) "
                "{ return +s.textContent; })"
            )
            lens = page.evaluate(
                "Array.prototype.map.call(document.querySelectorAll('#backdrop .lens'), function (s) "
                "{ return [+s.getAttribute('data-line'), s.textContent]; })"
            )
            shown = page.evaluate(
                "Array.prototype.map.call(document.querySelectorAll('#problems pre'), function (p) "
                "{ return [+p.getAttribute('data-line'), p.textContent]; })"
            )
            assert marked == [line] and lens == [[line, "← unknown key 'kernal'"]] and [s[0] for s in shown] == [line]
            assert page.evaluate("document.getElementById('shapes').classList.contains('stale')")
            # saved from the page, the file is what the editor holds, and the CLI says what the page says
            page.arm("archspec:save")
            page.evaluate("document.getElementById('save').click()")
            assert page.wait("archspec:save")["saved"] == 1
            assert spec_file.read_text() == page.evaluate("document.getElementById('editor').value")
            assert "\n".join(text for _, text in shown) == cli_errors(spec_file, capsys)
            problems = page.console_problems() + page.evaluate(f"{STATUS}.errors")
            assert not problems, problems
    finally:
        rc, _, err = server.stop()
    assert rc == 0 and "Traceback" not in err, err


def test_model_pane_in_chromium(chromium, lenet_run, digits, tmp_path):
    server = Server(str(lenet_run))
    try:
        with Browser(chromium, tmp_path / "profile") as browser:
            page = open_page(browser, server.url)
            assert not page.evaluate("document.getElementById('model-pane').hidden")
            assert (
                page.evaluate("document.querySelector('#filters figure.filters').getAttribute('data-filters')") == "6"
            )
            # a stroke resembling a 1, drawn with the mouse down the middle of the pad
            x, y, w, h = page.evaluate(
                "(function () "
                "{ var r = document.getElementById('pad').getBoundingClientRect(); return [r.left, r.top, r.width, "
                "r.height]; })()"
            )
            page.mouse("mouseMoved", x + w * 0.5, y + h * 0.18, buttons=0)
            page.mouse("mousePressed", x + w * 0.5, y + h * 0.18)
            for k in range(1, 13):
                page.mouse("mouseMoved", x + w * (0.5 - 0.02 * k / 12), y + h * (0.18 + 0.64 * k / 12))
            page.mouse("mouseReleased", x + w * 0.48, y + h * 0.82, buttons=0)
            # answers to parts of the stroke may come first: wait for the one to the whole stroke
            status = page.wait_for(
                f"(function () {{ var s = {STATUS}; return s.model >= 1 && s.modelSettled && s; }})()", "archspec:model"
            )
            assert status["plan"] == "28x28x4 -> rgba to gray -> zero-pad 2 px -> 32x32x1, x1/255"
            assert status["top"]["name"] == "1", status["top"]
            assert page.evaluate("document.querySelector('#answer b').textContent") == "1"
            layers = page.evaluate(
                "Array.prototype.map.call(document.querySelectorAll('#maps figure.layer'), function (f) "
                "{ return f.getAttribute('data-layer'); })"
            )
            assert layers == ["conv_1", "pool_1", "conv_2", "pool_2"]
            loaded = page.evaluate(
                "Array.prototype.every.call(document.querySelectorAll('#maps img'), function (i) "
                "{ return i.complete && i.naturalWidth > 0; })"
            )
            assert loaded
            # a real test digit, uploaded as a file
            for path, label in digits[:2]:
                status = upload(page, path)
                assert (
                    status["top"]["class"] == label and status["plan"] == "28x28x1 -> zero-pad 2 px -> 32x32x1, x1/255"
                )
            problems = page.console_problems() + page.evaluate(f"{STATUS}.errors")
            assert not problems, problems
    finally:
        rc, _, err = server.stop()
    assert rc == 0 and "Traceback" not in err, err


def test_the_docs_pictures_are_made_and_show_what_their_captions_say(chromium, lenet_run, digits):
    """The generator the site's build runs, on this module's run: it checks each caption's claim on the page before
    taking its screenshot (the table's first row, the line a typo is marked at, the class the model answers: it fails
    otherwise); each picture is a PNG of a plausible size, and each is on a page under the caption it was checked for
    (tests/test_docs_site.py: the build shows it there, or a note where it was not made)."""
    import struct

    assert (digits[0][0].name, digits[0][1]) == (f"digit{docpictures.DIGIT}.png", docpictures.LABEL)
    shutil.rmtree(SHOTS, ignore_errors=True)
    assert docpictures.make(SHOTS, run=lenet_run, digit=digits[0], chromium=chromium) == list(docpictures.PICTURES)
    for name in docpictures.PICTURES:
        data = (SHOTS / name).read_bytes()
        if name.endswith(".png"):
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", name
            width, height = struct.unpack(">II", data[16:24])
            assert width >= 600 and height >= 300 and len(data) > 20_000, (name, width, height, len(data))
    assert "predicted class <b>7</b> (9" in (SHOTS / "inspect-lenet.html").read_text()
    markdown = "\n".join(pages().values())
    for name, picture in docpictures.PICTURES.items():
        assert re.search(rf"\[{re.escape(picture.caption)}\]\((\.\./)*pictures/{re.escape(name)}\)", markdown), name
