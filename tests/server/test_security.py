"""Only the server's own user can drive it: the token, the Host allowlist and the Origin check, over plain HTTP and
WebSocket clients and from a hostile page on another origin in Chromium; security headers on every answer."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from featurelens.server import create_app
from featurelens.server.guard import CONTENT_SECURITY_POLICY, new_token

from tests.server.conftest import RunningServer
from tests.server.test_http import jpeg, next_frame


@pytest.fixture(scope="module")
def guarded(fashion, tmp_path_factory):
    """fashion-cnn behind a token, with an empty atlas folder (as `featurelens serve` runs it)."""
    token = new_token()
    server = RunningServer(create_app(fashion, data="photos", atlas=tmp_path_factory.mktemp("guarded") / "atlas", token=token), token)
    yield server
    server.stop()


def ws_url(server, token: str | None = None) -> str:
    return server.url.replace("http", "ws") + "/ws/live" + (f"?token={token}" if token else "")


def refused_status(url: str, host: str | None = None, **headers) -> int:
    """The HTTP status a WebSocket handshake got instead of opening; `host` names the server in the address
    (as a DNS-rebinding page would) while the connection still goes to the server."""
    sock = None
    if host is not None:
        sock = socket.create_connection(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
        url = url.replace("127.0.0.1", host)
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, additional_headers=headers or None, open_timeout=10, sock=sock):
            pass
    return refused.value.response.status_code


def test_requests_without_the_token_are_refused(guarded) -> None:
    for path in ("/", "/api/model", "/static/live.js", "/api/photos/1.jpg", "/atlas/"):
        answer = httpx.get(guarded.url + path)
        assert answer.status_code == 401, path
        assert "token" in answer.json()["error"] and "?token=" in answer.json()["error"]
    assert httpx.get(guarded.url + "/api/model", params={"token": "x" * 32}).status_code == 401  # a wrong one
    assert httpx.post(guarded.url + "/api/upload", content=jpeg()).status_code == 401
    assert refused_status(ws_url(guarded)) == 401
    assert refused_status(ws_url(guarded, "y" * 32)) == 401


def test_the_token_opens_the_page_once_and_a_cookie_keeps_it(guarded) -> None:
    with httpx.Client(base_url=guarded.url) as browser_like:
        first = browser_like.get("/", params={"token": guarded.token, "layer": "conv2", "unit": "3"})
        assert first.status_code == 303
        assert first.headers["location"] == "/?layer=conv2&unit=3"  # the address keeps the view, not the token
        cookie = first.headers["set-cookie"]
        assert f"featurelens-token-{guarded.port}={guarded.token}" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert browser_like.get("/").status_code == 200  # the cookie now carries the token
        assert browser_like.get("/api/model").json()["model"] == "fashion-cnn"
    headers = {"Authorization": f"token {guarded.token}"}  # scripts may send it as a header
    assert httpx.get(guarded.url + "/api/model", headers=headers).status_code == 200
    with connect(ws_url(guarded, guarded.token), max_size=None) as socket:
        socket.send(jpeg())
        assert next_frame(socket)["layer"]
    cookie = f"featurelens-token-{guarded.port}={guarded.token}"
    with connect(ws_url(guarded), additional_headers={"Cookie": cookie}, max_size=None) as socket:
        socket.send(jpeg())
        assert next_frame(socket)["layer"]


def test_a_foreign_host_name_is_refused(guarded) -> None:
    """DNS rebinding: a page under the attacker's name resolving to 127.0.0.1 sends its own Host."""
    auth = {"Authorization": f"token {guarded.token}"}
    for host in (f"evil.example:{guarded.port}", "evil.example", f"127.0.0.1.evil.example:{guarded.port}"):
        answer = httpx.get(guarded.url + "/api/model", headers={**auth, "Host": host})
        assert answer.status_code == 403 and "host name" in answer.json()["error"], host
    assert refused_status(ws_url(guarded, guarded.token), host="evil.example") == 403
    for host in (f"localhost:{guarded.port}", f"127.0.0.1:{guarded.port}"):
        assert httpx.get(guarded.url + "/api/model", headers={**auth, "Host": host}).status_code == 200


def test_a_foreign_origin_can_neither_open_the_socket_nor_change_anything(guarded) -> None:
    auth = {"Authorization": f"token {guarded.token}"}
    evil = {"Origin": "http://127.0.0.1:1"}  # another port of this machine: same site, another origin
    assert refused_status(ws_url(guarded, guarded.token), **evil) == 403
    assert refused_status(ws_url(guarded, guarded.token), Origin="null") == 403
    upload = httpx.post(guarded.url + "/api/upload", content=jpeg(), headers={**auth, **evil})
    assert upload.status_code == 403 and "refused" in upload.json()["error"]
    build = httpx.post(guarded.url + "/api/unit/conv3/0/build", headers={**auth, **evil})
    assert build.status_code == 403 and not guarded.app.state.jobs.active()
    own = {"Origin": guarded.url}
    assert httpx.post(guarded.url + "/api/upload", content=jpeg(), headers={**auth, **own}).status_code == 200
    with connect(ws_url(guarded, guarded.token), additional_headers=own, max_size=None) as socket:
        socket.send(jpeg())
        assert next_frame(socket)["layer"]


def test_every_answer_carries_the_security_headers_and_the_page_has_no_inline_script(guarded) -> None:
    auth = {"Authorization": f"token {guarded.token}"}
    for path in ("/", "/static/live.js", "/api/model", "/api/photos/0.jpg", "/api/nowhere"):
        headers = httpx.get(guarded.url + path, headers=auth).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY", path
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    page = httpx.get(guarded.url + "/", headers=auth).text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="/static/' in attrs or ('type="application/json"' in attrs) for attrs, _ in scripts)
    assert all(not body.strip() or 'type="application/json"' in attrs for attrs, body in scripts)


HOSTILE_PAGE = """<!doctype html><title>a page the user happens to visit</title><script>
window.report = {socket: "pending", upload: "pending", build: "pending"};
const target = "http://127.0.0.1:PORT";
const socket = new WebSocket("ws://127.0.0.1:PORT/ws/live");
socket.onopen = () => { window.report.socket = "open"; socket.send(JSON.stringify({unit: 1})); };
socket.onmessage = (m) => { window.report.socket = "read: " + String(m.data).slice(0, 40); };
socket.onerror = () => { if (window.report.socket === "pending") window.report.socket = "refused"; };
socket.onclose = () => { if (window.report.socket === "pending") window.report.socket = "refused"; };
const jpeg = Uint8Array.from(atob("JPEG64"), (c) => c.charCodeAt(0));
fetch(target + "/api/upload", {method: "POST", body: jpeg, mode: "no-cors", credentials: "include"})
  .then(() => window.report.upload = "sent", () => window.report.upload = "failed");
fetch(target + "/api/unit/conv3/5/build", {method: "POST", mode: "no-cors", credentials: "include"})
  .then(() => window.report.build = "sent", () => window.report.build = "failed");
</script>"""


class HostilePage(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


def test_a_page_from_another_origin_in_chromium_cannot_drive_the_server(guarded, chromium) -> None:
    """The user opened featurelens (the cookie is set), then visits a page on another port of this machine:
    same site, so the browser sends the cookie along; the Origin check is what stops it."""
    import base64

    HostilePage.body = HOSTILE_PAGE.replace("PORT", str(guarded.port)).replace("JPEG64", base64.b64encode(jpeg()).decode()).encode()
    other = http.server.HTTPServer(("127.0.0.1", 0), HostilePage)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{guarded.url}/?token={guarded.token}")
        page.wait_for_selector("#grid-canvas[data-channels]", timeout=60_000)  # the user's own page works
        uploads_before = len(guarded.app.state.uploads._items)
        hostile = context.new_page()
        hostile.goto(f"http://127.0.0.1:{other.server_port}/")
        hostile.wait_for_function("() => Object.values(window.report).every((v) => v !== 'pending')", timeout=30_000)
        report = hostile.evaluate("() => window.report")
        assert report["socket"] == "refused", report
        assert len(guarded.app.state.uploads._items) == uploads_before  # the upload reached nothing
        assert not guarded.app.state.jobs.active()  # no build was queued
        # the same requests from the server's own page do work: the test can tell the difference
        status = page.evaluate("""async () => (await fetch('/api/unit/conv3/5/build', {method: 'POST'})).status""")
        assert status == 200 and guarded.app.state.jobs.active()
    finally:
        context.close()
        other.shutdown()
        for job in guarded.app.state.jobs.active():
            guarded.app.state.jobs.cancel(job.id)


def test_a_script_in_the_address_never_runs(guarded, chromium) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        payload = "<img src=x onerror=window.__pwned=1>"
        page.goto(f"{guarded.url}/?token={guarded.token}&layer={payload}&unit=2")
        page.wait_for_function("() => !document.getElementById('error').hidden", timeout=60_000)
        page.wait_for_selector("#grid-canvas[data-channels]", timeout=60_000)
        page.wait_for_selector("#why li", timeout=60_000)  # "why this class" names units of the layer
        assert payload in page.inner_text("#error")  # shown as text
        assert page.evaluate("() => window.__pwned") is None
        assert page.evaluate("""() => document.querySelector('img[src="x"]')""") is None  # not even as markup (the CSP would stop it running)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ({"top": 0}, "'top'"), ({"layer": 5}, "'layer'"), ({"unit": -1}, "'unit'"), ({"unit": "3"}, "'unit'"),
        ({"method": "magic"}, "'method'"), ({"classes": "yes"}, "'classes'"), ({"lyer": "conv2"}, "unknown live option 'lyer'"),
        ([1, 2], "JSON object"), ("{not json", "not JSON"), ({"layer": "conv9"}, "conv9"), ({"unit": 100000}, "100000"),
    ],
)
def test_malformed_options_get_one_line_and_the_connection_keeps_working(guarded, message, named) -> None:
    with connect(ws_url(guarded, guarded.token), max_size=None) as socket:
        socket.send(message if isinstance(message, str) else json.dumps(message))
        reply = json.loads(socket.recv(timeout=30))
        assert reply["type"] == "error" and named in reply["message"] and "\n" not in reply["message"]
        socket.send(json.dumps({"layer": "conv2", "unit": 1}))  # then good options and a frame: all still served
        socket.send(jpeg())
        header = next_frame(socket)
        assert header["layer"] == "conv2" and header["unit"]["channel"] == 1


def test_a_browser_without_the_token_is_told_in_words_what_to_open(guarded, chromium) -> None:
    page = chromium.new_page()
    try:
        answer = page.goto(guarded.url + "/")
        assert answer.status == 401
        text = page.inner_text("body")
        assert "needs its token" in text and "?token=" in text and "featurelens serve" in text
    finally:
        page.close()
