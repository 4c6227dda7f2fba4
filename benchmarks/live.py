"""Benchmark the live page end to end: frames per second from the browser's camera, through the server and the
model, back to the browser's grid — against the raw forward rate of the same model truncated at the layer.

A real server (uvicorn) and Debian's Chromium, headless, with a fake webcam streaming the bundled cat photo
(drifting, so frames differ) at 240 frames a second, faster than the model, so the camera is not what limits. Each
setting opens the page at its address (`/?source=camera&layer=…&classes=…&unit=…`) in a fresh browser, and the
frames answered over `--seconds` are counted. The browser is not driven by Playwright here: Playwright reports every
WebSocket frame to its driver, work on the shared cores that a user's browser does not do (it cost 5–10 %).
The raw forward rate (batch 1, 224 px, the same layer) is measured in the same run before the browser starts
(never while the page streams: the cores belong to one of them at a time). Settings: the grid alone at the
default layer (the server's, GET /api/model: _blocks.8._depthwise_act, a rectified layer, since the page's default changed) and at the deepest block (_blocks.15);
the grid with the top classes and "why this class"; the grid with a unit's live projection (guided backprop).

Also, without the browser: the server's own work per frame against the raw forward, and the machine's
parallel capacity (benchmarks/_machine.py), since the browser and the server share the cores.

Usage:
  PYTHONPATH=benchmarks python benchmarks/live.py [--seconds 10] [--threads N] [--window 5] [--warm-up 3] [--settings default deepest classes projection] [--smoke]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import SECONDS, calls_per_second, parallel_capacity  # noqa: E402  (a lost import here once stopped the run)
from _smoke import SECONDS as SMOKE_SECONDS, parse_args  # noqa: E402
from tests.server.conftest import CHROMIUM, FLAGS, RunningServer, cat_video  # noqa: E402  (the test suite's server and camera)

from featurelens import load_model  # noqa: E402
from featurelens.capture import ActivationCapture  # noqa: E402
from featurelens.live import LiveOptions, LiveSession, decode_frame, encode_frame  # noqa: E402
from featurelens.photos import bundled_photos  # noqa: E402
from featurelens.photos import photo_batch  # noqa: E402
from featurelens.server import create_app  # noqa: E402
from featurelens.server.guard import new_token  # noqa: E402


CAMERA_FPS = 240  # above the raw forward at every setting (120 capped the rectified default, whose forward runs at 130–150 fps)
DEEPEST = "_blocks.15"
PROJECTED_UNIT = 33


def default_layer(server: RunningServer) -> str:
    """The layer the live page opens at, as the server tells the page (GET /api/model, with the server's token)."""
    request = urllib.request.Request(f"{server.url}/api/model", headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["default_layer"]


def raw_forward_rate(model, layer: str, seconds: float) -> float:
    """Frames per second of the bare forward to `layer`, batch 1 (what the live grid cannot beat)."""
    x = model.normalize(photo_batch(model.input_size, model.in_channels)[1:2])
    with torch.no_grad(), ActivationCapture(model.module, [layer]) as capture:
        return calls_per_second(lambda: capture.run(x), seconds)


def server_rate(model, layer: str, seconds: float) -> float:
    """Frames per second of the server's own work on a frame, no browser: JPEG decode, the grid's forward and maps, encoding."""
    buffer = io.BytesIO()
    bundled_photos()[1].convert("RGB").resize((model.input_size, model.input_size)).save(buffer, "JPEG", quality=85)
    data, session = buffer.getvalue(), LiveSession(model)
    options = session.check(LiveOptions(layer=layer, classes=False, why=False))
    return calls_per_second(lambda: encode_frame(session.process(decode_frame(data, model.in_channels, model.input_size), options), 0, {}), seconds)


class FrameCounter:
    """Counts the frames the server answers (`LiveSession.process` calls). The page sends a new frame only when fewer
    than two are unanswered, so in a steady state this is the rate at which frames go round, browser to browser."""

    def __init__(self) -> None:
        self.count = 0
        process = LiveSession.process

        def counted(session, image, options):
            frame = process(session, image, options)
            self.count += 1
            return frame

        LiveSession.process = counted

    def rate(self, seconds: float, warm_up: float, patience: float = 60.0) -> float:
        """Frames per second over `seconds`, once frames flow (within `patience` s) and `warm_up` s more have passed."""
        deadline = time.perf_counter() + patience
        start = self.count
        while self.count == start and time.perf_counter() < deadline:
            time.sleep(0.2)
        time.sleep(warm_up)
        first, start = self.count, time.perf_counter()
        time.sleep(seconds)
        return (self.count - first) / (time.perf_counter() - start)


def page_rate(counter: FrameCounter, url: str, camera: Path, profile: Path, seconds: float, warm_up: float) -> float:
    """Frames per second of the live page at `url` in a plain headless Chromium whose fake webcam plays `camera`."""
    browser = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--use-file-for-fake-video-capture={camera}", f"--user-data-dir={profile}", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        return counter.rate(seconds, warm_up)
    finally:
        browser.terminate()
        browser.wait(timeout=30)


SETTINGS = ("default", "deepest", "classes", "projection")
SMOKE = {"seconds": SMOKE_SECONDS, "window": SMOKE_SECONDS, "warm_up": SMOKE_SECONDS, "settings": ["default", "projection"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="frames are counted over this long in each setting")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--window", type=float, default=5.0, help=f"seconds of each rate timed without the browser (the machine's capacity: at most {SECONDS:g})")
    parser.add_argument("--warm-up", type=float, default=3.0, help="seconds the page streams before frames are counted")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS), help="the settings the page is opened in (default: all)")
    args = parse_args(parser, SMOKE)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model("efficientnet-lite0")
    token = new_token()  # as `featurelens serve` runs: the token, Host and Origin checks on
    server = RunningServer(create_app(model, token=token), token)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); efficientnet-lite0 at 224 px", flush=True)
    default = default_layer(server)  # the benchmark follows the page's default
    settings = [setting for key, setting in zip(SETTINGS, [
        (f"grid, default layer {default}", default, False, None),
        (f"grid, deepest block {DEEPEST}", DEEPEST, False, None),
        (f"grid + top classes + why, {default}", default, True, None),
        (f"grid + live projection (guided) of {default}:{PROJECTED_UNIT}", default, False, PROJECTED_UNIT),
    ]) if key in args.settings]
    _, capacity = parallel_capacity(min(args.window, SECONDS))
    print(f"machine: two one-thread processes together run {capacity:.2f}× one alone (2.00: two real cores; the browser "
          f"and the server share what there is)", flush=True)
    raw = {layer: raw_forward_rate(model, layer, args.window) for layer in dict.fromkeys(layer for _, layer, _, _ in settings)}
    for layer in raw:
        served = server_rate(model, layer, args.window)
        print(f"server alone (decode, forward, maps, encode), {layer}: {served:.1f} fps; raw forward {raw[layer]:.1f} fps "
              f"→ ratio {served / raw[layer]:.2f}", flush=True)
    counter = FrameCounter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            camera = cat_video(Path(tmp) / "cat.y4m", fps=CAMERA_FPS)  # faster than the model: the camera is not the limit
            for number, (name, layer, classes, unit) in enumerate(settings):
                address = f"{server.url}/?token={token}&source=camera&layer={layer}&classes={int(classes)}" + (f"&unit={unit}" if unit is not None else "")
                fps = page_rate(counter, address, camera, Path(tmp) / f"profile-{number}", args.seconds, args.warm_up)
                print(f"{name}: {fps:.1f} fps end to end; raw forward to {layer} {raw[layer]:.1f} fps → ratio {fps / raw[layer]:.2f}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
