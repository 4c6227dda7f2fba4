"""A real server on a free local port, real Chromium (Debian's, driven by Playwright) with a fake webcam
streaming a real photo from a Y4M file."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from featurelens.atlas import AtlasSettings, AtlasStore
from featurelens.data import fashion_mnist
from featurelens.photos import bundled_photos
from featurelens.server import create_app
from featurelens.server.serve import UVICORN_OPTIONS

from tests.conftest import CHROMIUM, CHROMIUM_FLAGS

FLAGS = [*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]  # and a fake camera


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    """uvicorn in a thread; `url` to reach it, stopped at teardown; `app` as made (its `token`, if any, to pass)."""

    def __init__(self, app, token: str | None = None) -> None:
        self.app, self.token = app, token
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, ws_ping_interval=None, **UVICORN_OPTIONS))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """Raw YUV 4:2:0 frames (BT.601) from RGB uint8 [H, W, 3] arrays of even size: what Chromium's fake camera plays."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            sub = lambda c: c.reshape(height // 2, 2, width // 2, 2).mean((1, 3))  # noqa: E731
            out.write(b"FRAME\n")
            for plane in (y, sub(u), sub(v)):
                out.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())
    return path


def cat_video(path: Path, frames: int = 24, fps: int = 30) -> Path:
    """The bundled cat photo (chelsea), drifting a few pixels a frame, so consecutive frames differ."""
    photo = np.asarray(bundled_photos()[1].convert("RGB"))  # 300 × 451
    side = 256
    clips = []
    for i in range(frames):
        top, left = 20 + (i % 12) * 2, 90 + (i % 12) * 4
        clips.append(photo[top : top + side, left : left + side])
    return write_y4m(path, clips, fps)


@pytest.fixture(scope="session")
def live_server(lite0):
    server = RunningServer(create_app(lite0, data="photos"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fashion_server(fashion, tmp_path_factory):
    """fashion-cnn on Fashion-MNIST, with an empty atlas of quick settings (the server keeps an atlas's own settings)."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    folder = tmp_path_factory.mktemp("served") / "atlas"
    AtlasStore.open(folder, fashion, "fashion-mnist:test", settings=AtlasSettings(steps=8, diverse=1, limit=300))
    server = RunningServer(create_app(fashion, data="fashion-mnist:test", atlas=folder))
    yield server, folder
    server.stop()


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory) -> Path:
    return cat_video(tmp_path_factory.mktemp("camera") / "cat.y4m")


@pytest.fixture(scope="session")
def browser(camera_file, playwright_driver):
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, f"--use-file-for-fake-video-capture={camera_file}"])
    yield browser
    browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["camera"])
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def music_server(music_cnn, music_clips, tmp_path_factory):
    """The live server on `music-cnn` with an empty atlas of quick settings."""
    model = music_cnn
    folder = tmp_path_factory.mktemp("music-atlas") / "atlas"
    AtlasStore.open(folder, model, str(music_clips), settings=AtlasSettings(steps=8, k=2))
    server = RunningServer(create_app(model, data=str(music_clips), atlas=folder))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def microphone_file(music_clips, tmp_path_factory) -> Path:
    """The clips one after another as one WAV: what Chromium's fake microphone plays (on a loop)."""
    import numpy as np
    import soundfile

    clips = [soundfile.read(path, dtype="float32", always_2d=True) for path in sorted(music_clips.rglob("*.wav"))]
    rate = clips[0][1]
    path = tmp_path_factory.mktemp("microphone") / "music.wav"
    soundfile.write(path, np.concatenate([audio.mean(axis=1) for audio, _ in clips]), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def microphone_browser(microphone_file, playwright_driver):
    """Chromium whose fake microphone streams `microphone_file`, allowed to play sound without a click."""
    args = [*FLAGS, f"--use-file-for-fake-audio-capture={microphone_file}"]  # FLAGS let media play without a click
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=args)
    yield browser
    browser.close()
