"""Benchmark the live page end to end: frames per second from the browser's camera, through the server and the
model, back to the browser's grid — against the raw forward rate of the same model truncated at the layer.

A real server (uvicorn) and Debian's Chromium (Playwright) with a fake webcam streaming the bundled cat photo
(drifting, so frames differ). For each setting the page runs for `--seconds`, and the frames drawn are counted;
the raw forward rate (batch 1, 224 px, the same layer) is measured in the same run before the browser starts
(never while the page streams: the model's hooks and the cores belong to one of them at a time). Settings: the grid alone at the default layer (_blocks.8) and at the deepest block (_blocks.15);
the grid with the top classes and "why this class"; the grid with a unit's live projection (guided backprop).

Also, without the browser: the server's own work per frame against the raw forward, and the machine's
parallel capacity (benchmarks/_machine.py), since the browser and the server share the cores.

Usage:
  PYTHONPATH=benchmarks python benchmarks/live.py [--seconds 10] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
from conftest import CHROMIUM, FLAGS, RunningServer, cat_video  # noqa: E402  (the test suite's server and camera)

from featurelens import load_model  # noqa: E402
from featurelens.capture import ActivationCapture  # noqa: E402
from featurelens.photos import photo_batch  # noqa: E402
from featurelens.server import create_app  # noqa: E402


def raw_forward_rate(model, layer: str, seconds: float) -> float:
    """Frames per second of the bare forward to `layer`, batch 1 (what the live grid cannot beat)."""
    x = model.normalize(photo_batch(model.input_size)[1:2])
    with torch.no_grad(), ActivationCapture(model.module, [layer]) as capture:
        capture.run(x)
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            capture.run(x)
            count += 1
    return count / (time.perf_counter() - start)


def server_rate(model, layer: str, seconds: float) -> float:
    """Frames per second of the server's own work on a frame, no browser: JPEG decode, the grid's forward and maps, encoding."""
    import io

    from featurelens.live import LiveOptions, LiveSession
    from featurelens.live.frames import decode_frame
    from featurelens.live.protocol import encode_frame
    from featurelens.photos import bundled_photos

    buffer = io.BytesIO()
    bundled_photos()[1].convert("RGB").resize((model.input_size, model.input_size)).save(buffer, "JPEG", quality=85)
    data, session = buffer.getvalue(), LiveSession(model)
    options = session.check(LiveOptions(layer=layer, classes=False, why=False))
    session.process(decode_frame(data, model.in_channels, model.input_size), options)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        encode_frame(session.process(decode_frame(data, model.in_channels, model.input_size), options), count, {})
        count += 1
    return count / (time.perf_counter() - start)


def page_rate(page, seconds: float) -> float:
    """Frames the page drew per second over `seconds` (after a warm-up)."""
    time.sleep(2)
    first = int(page.get_attribute("#fps", "data-frames") or 0)
    start = time.perf_counter()
    time.sleep(seconds)
    last = int(page.get_attribute("#fps", "data-frames") or 0)
    return (last - first) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from playwright.sync_api import sync_playwright

    model = load_model("efficientnet-lite0")
    server = RunningServer(create_app(model))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); efficientnet-lite0 at 224 px", flush=True)
    settings = [
        ("grid, default layer _blocks.8", "_blocks.8", False, None),
        ("grid, deepest block _blocks.15", "_blocks.15", False, None),
        ("grid + top classes + why, _blocks.8", "_blocks.8", True, None),
        ("grid + live projection (guided) of _blocks.8:33", "_blocks.8", False, 33),
    ]
    from _machine import parallel_capacity

    _, capacity = parallel_capacity()
    print(f"machine: two one-thread processes together run {capacity:.2f}× one alone (2.00: two real cores; the browser "
          f"and the server share what there is)", flush=True)
    raw = {layer: raw_forward_rate(model, layer, 5.0) for layer in dict.fromkeys(layer for _, layer, _, _ in settings)}
    for layer in raw:
        served = server_rate(model, layer, 5.0)
        print(f"server alone (decode, forward, maps, encode), {layer}: {served:.1f} fps; raw forward {raw[layer]:.1f} fps "
              f"→ ratio {served / raw[layer]:.2f}", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
            camera = cat_video(Path(tmp) / "cat.y4m")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, f"--use-file-for-fake-video-capture={camera}"])
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.grant_permissions(["camera"])
            page = context.new_page()
            page.goto(server.url)
            page.click("#source-camera")
            page.wait_for_function("document.getElementById('status').textContent === 'camera'", timeout=60_000)
            for name, layer, classes, unit in settings:
                page.select_option("#layer", layer)
                if page.is_checked("#classes-toggle") != classes:
                    page.click("#classes-toggle")
                if unit is not None:
                    page.evaluate(f"selectUnit({unit})")  # the page's own handler, as a click on the tile
                fps = page_rate(page, args.seconds)
                print(f"{name}: {fps:.1f} fps end to end; raw forward to {layer} {raw[layer]:.1f} fps → ratio {fps / raw[layer]:.2f}", flush=True)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
