"""Bounded work, as a user runs `featurelens serve`: a flood of build requests leaves at most the stated bound
queued (the rest get 429), a cancelled job stops, Ctrl-C stops the server within seconds with a page still open,
and live connections past the cap are told so while the others keep working."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.sync.client import connect

from featurelens.data import fashion_mnist
from featurelens.server import ServerLimits, create_app

from tests.conftest import as_in_a_terminal
from tests.server.conftest import RunningServer, free_port
from tests.server.test_http import jpeg, next_frame

LIMITS = ServerLimits()


def start_serve(tmp_path, *args: str) -> tuple[subprocess.Popen, str, dict]:
    """`featurelens serve` on fashion-cnn in a subprocess; (process, base URL, auth headers) once it answers."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    port = free_port()
    command = [sys.executable, "-c", "from featurelens.cli.app import main; main()", "serve", "--model", "fashion-cnn",
               "--data", "fashion-mnist:test", "--atlas", str(tmp_path / "atlas"), "--port", str(port), *args]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               preexec_fn=as_in_a_terminal)
    line = process.stderr.readline()
    assert f"open http://127.0.0.1:{port}/?token=" in line, line
    token = line.split("?token=")[1].split()[0]
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(base + "/api/model", headers=auth).status_code == 200:
                return process, base, auth
        except httpx.TransportError:
            pass
        assert time.time() < deadline and process.poll() is None, "the server did not start"
        time.sleep(0.2)


def test_a_flood_of_builds_leaves_the_bound_queued_and_ctrl_c_stops_the_server_within_seconds(tmp_path) -> None:
    process, base, auth = start_serve(tmp_path)
    try:
        units = [(layer, channel) for layer, channels in (("conv3", 128), ("relu3", 128), ("conv2", 64), ("relu2", 64), ("conv1", 32), ("relu1", 32), ("pool3", 60)) for channel in range(channels)]
        assert len(units) == 508
        with httpx.Client(base_url=base, headers=auth, timeout=60) as client, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda unit: client.post(f"/api/unit/{unit[0]}/{unit[1]}/build"), units[:500]))
            codes = [answer.status_code for answer in answers]
            busy = [answer.json()["error"] for answer in answers if answer.status_code == 429]
            assert set(codes) <= {200, 429} and len(busy) >= 490, set(codes)
            assert "busy" in busy[0] and "--max-jobs" in busy[0]
            seen = {job["id"] for answer in answers if answer.status_code == 200 for job in answer.json()["jobs"]}
            states = [client.get(f"/api/jobs/{job}").json()["state"] for job in seen]
            assert 1 <= sum(state in ("queued", "running") for state in states) <= LIMITS.max_jobs_per_client
            running = [job for job in seen if client.get(f"/api/jobs/{job}").json()["state"] in ("queued", "running")]
            cancelled = client.post(f"/api/jobs/{running[-1]}/cancel").json()
            assert cancelled["state"] in ("cancelled", "running")  # a running one stops at its next report
        with connect(base.replace("http", "ws") + "/ws/live", additional_headers=auth, max_size=None) as page:  # a page still open
            page.send(jpeg())
            next_frame(page)
            began = time.monotonic()
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
            assert time.monotonic() - began < 15
        manifest = json.loads((tmp_path / "atlas" / "atlas.json").read_text())  # what was finished is kept, whole
        assert manifest["model"]["spec"] == "fashion-cnn"
    finally:
        if process.poll() is None:
            process.kill()


def test_live_connections_past_the_cap_are_told_and_the_others_keep_working(fashion, tmp_path) -> None:
    server = RunningServer(create_app(fashion, data="photos", atlas=tmp_path / "atlas", limits=ServerLimits(max_connections=2)))
    url = server.url.replace("http", "ws") + "/ws/live"
    try:
        with connect(url, max_size=None) as first, connect(url, max_size=None) as second:
            with connect(url, max_size=None) as third:
                refusal = json.loads(third.recv(timeout=10))
                assert refusal["type"] == "error" and "2 live connections" in refusal["message"] and "--max-connections" in refusal["message"]
            for socket in (first, second):
                socket.send(jpeg())
                assert next_frame(socket)["layer"]
        with connect(url, max_size=None) as later:  # a closed page frees its place
            later.send(jpeg())
            assert next_frame(later)["layer"]
    finally:
        server.stop()
