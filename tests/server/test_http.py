"""The server over plain HTTP and WebSocket clients: only its own files, bounded uploads, and it keeps serving
whatever clients do (drop mid-frame, ten at once, send garbage)."""

from __future__ import annotations

import io
import json
import threading
import time

import httpx
import pytest
from websockets.sync.client import connect

from featurelens.live.protocol import decode_header
from featurelens.photos import bundled_photos
from featurelens.server import ServerLimits


def jpeg(number: int = 1) -> bytes:
    buffer = io.BytesIO()
    bundled_photos()[number].resize((224, 224)).save(buffer, format="JPEG")
    return buffer.getvalue()


def ws_url(server) -> str:
    return server.url.replace("http", "ws") + "/ws/live"


def next_frame(socket, timeout: float = 60) -> dict:
    """The next processed frame's header (skipping option acknowledgements)."""
    deadline = time.time() + timeout
    while True:
        message = socket.recv(timeout=max(0.1, deadline - time.time()))
        if isinstance(message, bytes):
            header, payload = decode_header(message)
            assert len(payload) >= header["channels"] * header["height"] * header["width"]
            return header
        reply = json.loads(message)
        assert reply["type"] == "options", reply


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd", "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static//etc/passwd", "/api/uploads/..%2f..%2fetc%2fpasswd.jpg", "/api/photos/-1.jpg", "/etc/passwd",
    ],
)
def test_nothing_outside_the_package_static_files_is_served(live_server, path) -> None:
    response = httpx.get(live_server.url + path)
    assert response.status_code in (400, 404, 422)
    assert "root:" not in response.text


def test_the_page_and_its_files_are_served_offline(live_server) -> None:
    page = httpx.get(live_server.url + "/")
    assert page.status_code == 200 and "efficientnet-lite0" in page.text
    assert "http://" not in page.text.replace(live_server.url, "") and "https://" not in page.text  # nothing from a CDN
    for path in ("/static/live.js", "/static/live.css", "/api/photos/1.jpg"):
        assert httpx.get(live_server.url + path).status_code == 200, path
    model = httpx.get(live_server.url + "/api/model").json()
    assert model["default_layer"] == "_blocks.8._depthwise_act" and model["classes"]  # mid-network and rectified


def test_uploads_are_checked_and_bounded(live_server) -> None:
    good = httpx.post(live_server.url + "/api/upload", content=jpeg())
    assert good.status_code == 200 and httpx.get(live_server.url + good.json()["url"]).headers["content-type"] == "image/jpeg"
    bad = httpx.post(live_server.url + "/api/upload", content=b"not an image at all")
    assert bad.status_code == 400 and "is not an image" in bad.json()["error"]
    huge = httpx.post(live_server.url + "/api/upload", content=b"\0" * (11 << 20))
    assert huge.status_code == 413 and "larger than 10 MB" in huge.json()["error"]

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(12):
            yield b"\0" * (1 << 20)

    streamed = httpx.post(live_server.url + "/api/upload", content=chunks())
    assert streamed.status_code == 413


def test_frames_come_back_and_bad_input_gets_a_message(live_server) -> None:
    with connect(ws_url(live_server), max_size=None) as socket:
        socket.send(json.dumps({"layer": "_blocks.4", "classes": False}))
        socket.send(jpeg())
        header = next_frame(socket)
        assert header["layer"] == "_blocks.4" and header["channels"] == 40 and header["classes"] is None
        assert header["signed"] is True  # a linear bottleneck: its maps have 128 as zero
        socket.send(json.dumps({"layer": "_blocks.99"}))
        assert "is not a layer with a spatial map" in json.loads(socket.recv(timeout=30))["message"]
        socket.send(json.dumps({"unit": 999}))
        assert "channel 999 out of range" in json.loads(socket.recv(timeout=30))["message"]
        socket.send(b"garbage bytes")
        assert "is not an image" in json.loads(socket.recv(timeout=60))["message"]
        socket.send(jpeg())
        assert next_frame(socket)["channels"] == 40  # still serving this client


def test_a_client_dropping_mid_frame_leaves_the_server_serving(live_server) -> None:
    for _ in range(3):
        with connect(ws_url(live_server), max_size=None) as socket:
            socket.send(jpeg())
        # gone while its frame is in the model
    with connect(ws_url(live_server), max_size=None) as socket:
        socket.send(jpeg())
        header = next_frame(socket)
        assert header["channels"] == 480 and header["signed"] is False  # the default layer is rectified
    assert httpx.get(live_server.url + "/api/model").status_code == 200


def test_only_the_newest_frame_is_processed(live_server) -> None:
    with connect(ws_url(live_server), max_size=None) as socket:
        for _ in range(8):  # faster than the model: the older frames are dropped, not queued
            socket.send(jpeg())
        first = next_frame(socket)
        last = first
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                last = next_frame(socket, timeout=2)
            except TimeoutError:
                break
        assert last["dropped"] >= 5 and last["frame"] <= 3


def test_as_many_clients_as_the_server_takes_are_all_served_at_once(live_server) -> None:
    clients = ServerLimits().max_connections
    answered: list[int] = []
    errors: list[BaseException] = []

    def client(number: int) -> None:
        try:
            with connect(ws_url(live_server), max_size=None) as socket:
                socket.send(json.dumps({"classes": number % 2 == 0}))
                for _ in range(2):
                    socket.send(jpeg(number % 3))
                    next_frame(socket, timeout=120)
                answered.append(number)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert clients >= 8 and not errors and sorted(answered) == list(range(clients))
