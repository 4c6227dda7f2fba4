"""Decompression bombs sent to the live server: small files that would decode to gigabytes are refused from their
header with a message naming their size, the connection keeps serving, and the server's memory stays put.

The image server runs as a subprocess, so its peak memory (VmHWM) is its own to read; it serves EfficientNet-Lite0,
whose RGB input made a bomb cost gigabytes before."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile
from websockets.sync.client import connect

from featurelens.live.audio import encode_audio

from tests.server.conftest import free_port
from tests.server.test_http import jpeg, next_frame
from tests.test_images import bomb

MEMORY_SLACK = 500 << 20  # bytes a bomb may add to the server's peak memory
SERVE = """
import sys
from pathlib import Path
import uvicorn
from featurelens import load_model
from featurelens.server import create_app
model, data, atlas, port = sys.argv[1:]
uvicorn.run(create_app(load_model(model), data=data, atlas=Path(atlas)), host="127.0.0.1", port=int(port),
            log_level="warning", ws_ping_interval=None)
"""


class ServerProcess:
    """`featurelens serve`'s app in a subprocess; `url`, and its memory from /proc."""

    def __init__(self, model: str, data: str, atlas: Path) -> None:
        port = free_port()
        self.process = subprocess.Popen([sys.executable, "-c", SERVE, model, data, str(atlas), str(port)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stdout.read()}")
            try:
                if httpx.get(self.url + "/api/model", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)

    def memory(self, field: str) -> int:
        """VmRSS (now) or VmHWM (peak) in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field + ":"))) << 10

    def reset_peak(self) -> int:
        """Start the peak afresh at the current RSS (Linux ≥ 4.0); returns that RSS."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        return self.memory("VmRSS")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def image_server(tmp_path_factory):
    server = ServerProcess("efficientnet-lite0", "photos", tmp_path_factory.mktemp("bomb-atlas") / "atlas")
    with connect(server.url.replace("http", "ws") + "/ws/live", max_size=None) as socket:  # warm: first frame and upload
        socket.send(jpeg())
        next_frame(socket)
    assert httpx.post(server.url + "/api/upload", content=jpeg()).status_code == 200
    yield server
    server.stop()


def test_a_bomb_frame_gets_a_message_and_the_socket_keeps_serving(image_server) -> None:
    start = image_server.reset_peak()
    with connect(image_server.url.replace("http", "ws") + "/ws/live", max_size=None) as socket:
        socket.send(bomb())
        reply = json.loads(socket.recv(timeout=60))
        assert reply == {"type": "error", "message": "the frame is 13000 × 13000 pixels (169 M), more than the 16.8 M "
                                                     "allowed: send a smaller image"}
        socket.send(bomb(20000))  # beyond twice PIL's own limit
        assert "has 400 M pixels, more than the 16.8 M allowed" in json.loads(socket.recv(timeout=60))["message"]
        socket.send(jpeg())
        assert next_frame(socket)["channels"] > 0  # still serving this client
    assert image_server.memory("VmHWM") - start < MEMORY_SLACK


def test_a_bomb_upload_is_refused_naming_its_size(image_server) -> None:
    start = image_server.reset_peak()
    began = time.perf_counter()
    refused = httpx.post(image_server.url + "/api/upload", content=bomb(), timeout=60)
    assert refused.status_code == 400
    assert refused.json() == {"error": "the upload is 13000 × 13000 pixels (169 M), more than the 16.8 M allowed: send a smaller image"}
    assert time.perf_counter() - began < 5
    junk = httpx.post(image_server.url + "/api/upload", content=b"GIF89a not really", timeout=60)
    assert junk.status_code == 400 and "0x" not in junk.json()["error"] and "<_io" not in junk.json()["error"]
    assert httpx.post(image_server.url + "/api/upload", content=jpeg()).status_code == 200
    assert image_server.memory("VmHWM") - start < MEMORY_SLACK


def silent_flac(seconds: float, rate: int) -> bytes:
    """`seconds` of silence at `rate` as FLAC, written a minute at a time (30 min at 96 kHz: about 0.5 MB)."""
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", rate, 1, format="FLAC") as out:
        minute = np.zeros(60 * rate, np.int16)
        for _ in range(int(seconds // 60)):
            out.write(minute)
    return buffer.getvalue()


def peak_reset() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return rss("VmRSS")


def rss(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field + ":"))) << 10


def test_a_long_sound_upload_is_refused_naming_its_length(music_server) -> None:
    data = silent_flac(30 * 60, 96000)
    assert len(data) < 1 << 20  # well within the 10 MB upload limit
    start = peak_reset()  # the server runs in this process's threads
    refused = httpx.post(music_server.url + "/api/upload", content=data, timeout=60)
    assert refused.status_code == 400
    assert refused.json() == {"error": "the upload lasts 30 min, more than the 10 min allowed: send a shorter sound"}
    assert rss("VmHWM") - start < MEMORY_SLACK
    broken = httpx.post(music_server.url + "/api/upload", content=b"RIFF\0\0\0\0WAVEnot really audio", timeout=60)
    assert broken.status_code == 400 and "0x" not in broken.json()["error"] and "<_io" not in broken.json()["error"]
    fine = httpx.post(music_server.url + "/api/upload", content=silent_flac(120, 48000), timeout=60)
    assert fine.status_code == 200 and fine.json()["seconds"] == 120


def test_the_live_audio_message_is_bounded_at_the_highest_rate(music_server) -> None:
    with connect(music_server.url.replace("http", "ws") + "/ws/live", max_size=None) as socket:
        socket.send(encode_audio(np.zeros(13 * 192000, np.float32), 192000))  # 10 MB: past the 4 clips a message may hold
        reply = json.loads(socket.recv(timeout=60))
        assert reply["type"] == "error" and "holds 13.0 s: send at most 12 s" in reply["message"]
