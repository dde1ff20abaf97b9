"""archspec serve under a careless or hostile client: every bad request a 4xx, work bounded in time and size,
slow clients dropped, and the server stopped by Ctrl-C or SIGTERM whatever it is doing.

The API tests use Starlette's test client; the ones about time, connections and signals start the real
server on 127.0.0.1 (``Server`` from test_serve) and wait on events (an answer, a closed socket, an
exit), each bounded by a deadline, never on a sleep.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("starlette", reason="archspec[serve] not installed")
pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2")

from test_serve import LENET, client_for, spec_file  # noqa: E402,F401  (spec_file: the fixture)


# -- every bad request is a 4xx ----------------------------------------------------------------
@pytest.mark.parametrize("route", ["/api/spec/check", "/api/spec/save"])
@pytest.mark.parametrize("text", [r"name: x\n# \ud800\n", r"name: \"\udc00\"\n", r"\ud800: 1\n", r"name: a\ud83d\n"])
def test_a_lone_surrogate_is_a_400_not_a_500(spec_file, route, text):
    """JSON may escape half a UTF-16 pair ("\\ud800"): no character, so no UTF-8 for it; refused where the body is read."""
    client = client_for(spec_file)
    version = client.get("/api/session").json()["spec"]["version"]
    body = '{"text": "%s", %s}' % (text, '"version": "%s"' % version if route.endswith("save") else '"sets": []')
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
    text = LENET.read_text().replace("name: lenet", "name: lenet  # \U0001F600", 1)
    body = json.dumps({"text": text})  # ASCII, the emoji as "\\ud83d\\ude00"
    assert "\\ud83d\\ude00" in body
    answer = client.post("/api/spec/check", content=body.encode("ascii"), headers={"content-type": "application/json"})
    assert answer.status_code == 200 and answer.json()["ok"], answer.text
