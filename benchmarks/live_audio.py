"""Benchmark the live page of an audio model: windows per second from the browser's microphone, through the server
and the model, back to the browser's heat map — against the raw cost of the same window (front end + forward to the
layer, batch 1).

A real server (uvicorn) and Debian's Chromium (Playwright) with a fake microphone streaming real music (clips of the
collection maker, one after another). The page sends the newest clip length at most 10 times a second, so 10
windows/s is its ceiling; the server's own work per window (decode, front end, forward, maps, log-mel, encoding)
and the raw forward are measured in the same run, before the browser starts. The server runs as `featurelens serve`
does, with its token (and the Host and Origin checks) on.

Usage:
  PYTHONPATH=benchmarks python benchmarks/live_audio.py [--seconds 10] [--threads N] [--window 5] [--warm-up 2] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server.conftest import CHROMIUM, FLAGS, RunningServer  # noqa: E402  (the test suite's server)

from _machine import calls_per_second  # noqa: E402  (PYTHONPATH=benchmarks)
from _smoke import SECONDS as SMOKE_SECONDS, parse_args  # noqa: E402
from featurelens import load_model  # noqa: E402
from featurelens.audio.collection import make_collection  # noqa: E402
from featurelens.capture import ActivationCapture  # noqa: E402
from featurelens.live import LiveOptions, LiveSession, decode_audio, encode_frame, process_audio  # noqa: E402
from featurelens.live.audio import encode_audio  # noqa: E402
from featurelens.server import create_app  # noqa: E402
from featurelens.server.guard import new_token  # noqa: E402

SMOKE = {"seconds": 2 * SMOKE_SECONDS, "window": SMOKE_SECONDS, "warm_up": SMOKE_SECONDS}
FRAMES = "Number(document.querySelector('#fps')?.dataset.frames || 0)"  # windows the page has drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="windows are counted over this long")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--window", type=float, default=5.0, help="seconds of each rate timed without the browser")
    parser.add_argument("--warm-up", type=float, default=2.0, help="seconds the page streams before windows are counted")
    args = parse_args(parser, SMOKE)
    torch.set_num_threads(args.threads)
    import soundfile
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        clips = make_collection(Path(tmp) / "music", clips=4, seconds=3.0, seed=11).folder
        song = np.concatenate([soundfile.read(path, dtype="float32")[0] for path in sorted(clips.rglob("*.wav"))])
        microphone = Path(tmp) / "music.wav"
        soundfile.write(microphone, song, 16000, subtype="PCM_16")
        model = load_model("music-cnn")
        audio, layer = model.audio, "conv3"
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); music-cnn, layer {layer}, "
              f"{audio.clip_seconds:g} s windows at {audio.sample_rate} Hz; shared machine", flush=True)
        window = torch.from_numpy(song[: audio.clip_samples])[None]

        def raw() -> None:
            with torch.no_grad(), ActivationCapture(model.module, [layer]) as capture:
                capture.run(audio.spectrogram(window))

        session = LiveSession(model)
        options = session.check(LiveOptions(layer=layer))
        message = encode_audio(song[: audio.clip_samples], audio.sample_rate)
        raw_rate = calls_per_second(raw, args.window)
        served = calls_per_second(lambda: encode_frame(process_audio(session, decode_audio(message, audio), options), 0, {}), args.window)
        print(f"raw front end + forward to {layer}: {raw_rate:.0f} windows/s; server alone (decode, front end, forward, maps, "
              f"log-mel, encode): {served:.0f} windows/s → ratio {served / raw_rate:.2f}", flush=True)
        token = new_token()
        server = RunningServer(create_app(model, data=str(clips), atlas=Path(tmp) / "atlas", token=token), token)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                    *FLAGS, f"--use-file-for-fake-audio-capture={microphone}"])
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.grant_permissions(["microphone"])
                page = context.new_page()
                page.goto(f"{server.url}/?token={token}")  # the token becomes a cookie, as in a user's browser
                page.click("#source-microphone")
                page.wait_for_function(f"() => {FRAMES} > 0", timeout=60_000)  # windows flow
                time.sleep(args.warm_up)
                first, start = page.evaluate(FRAMES), time.perf_counter()
                time.sleep(args.seconds)
                last = page.evaluate(FRAMES)
                drawn = (last - first) / (time.perf_counter() - start)
                print(f"page end to end (microphone → server → heat map): {drawn:.1f} windows/s of the page's ceiling of 10",
                      flush=True)
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
