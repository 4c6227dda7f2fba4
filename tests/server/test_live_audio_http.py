"""The live server of an audio model over plain WebSocket and HTTP clients: audio windows come back as channels over
time, bad audio messages and non-audio uploads get one-line messages, and only the newest window is processed."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import soundfile
from websockets.sync.client import connect

from featurelens.live.audio import encode_audio
from featurelens.live.protocol import decode_header

RATE = 16000


def music(music_clips, rate: int = RATE) -> np.ndarray:
    """The first clip (3 s at 16 kHz), or resampled to `rate`."""
    from featurelens.audio.sources import resample

    audio, found = soundfile.read(sorted(music_clips.rglob("*.wav"))[0], dtype="float32", always_2d=True)
    return resample(audio.mean(axis=1), found, rate)


def next_window(socket, timeout: float = 60) -> tuple[dict, memoryview]:
    deadline = time.time() + timeout
    while True:
        message = socket.recv(timeout=max(0.1, deadline - time.time()))
        if isinstance(message, bytes):
            return decode_header(message)
        reply = json.loads(message)
        assert reply["type"] == "options", reply


def error_of(socket, timeout: float = 30) -> str:
    reply = json.loads(socket.recv(timeout=timeout))
    assert reply["type"] == "error", reply
    return reply["message"]


def test_a_window_comes_back_as_channels_over_time_with_its_log_mel(music_server, music_clips) -> None:
    with connect(music_server.url.replace("http", "ws") + "/ws/live", max_size=None) as socket:
        socket.send(json.dumps({"layer": "relu2", "unit": 7}))
        socket.send(encode_audio(music(music_clips), RATE))
        header, payload = next_window(socket)
        assert header["kind"] == "audio" and header["layer"] == "relu2" and header["window_seconds"] == 3.0
        assert len(payload) == header["channels"] * header["steps"] + header["bands"] * header["frames"]
        assert (header["channels"], header["bands"], header["frames"]) == (128, 64, 188)
        maps = np.frombuffer(payload[: 128 * header["steps"]], np.uint8)
        assert maps.max() == 255 and len(header["unit"]["values"]) == header["steps"]
        # a second of music at 48 kHz: resampled, padded with silence in front to the 3-s window
        socket.send(encode_audio(music(music_clips, 48000)[:48000], 48000))
        short, payload = next_window(socket)
        mel = np.frombuffer(payload[128 * short["steps"]:], np.uint8).reshape(64, 188)
        assert mel[:, :100].max() == 0 and mel[:, -50:].max() == 255  # silence first, the music at the end


def test_bad_audio_messages_get_a_message_and_the_socket_keeps_serving(music_server, music_clips) -> None:
    with connect(music_server.url.replace("http", "ws") + "/ws/live", max_size=None) as socket:
        socket.send(b"\xff\xd8\xff\xe0 a JPEG frame")
        assert "is not audio" in error_of(socket)
        socket.send(encode_audio(np.zeros(100), 1000))
        assert "sample rate 1000 Hz is outside" in error_of(socket)
        socket.send(encode_audio(np.zeros(100), RATE) + b"\0\0")
        assert "whole float32 samples" in error_of(socket)
        socket.send(encode_audio(np.zeros(0), RATE))
        assert "no samples" in error_of(socket)
        socket.send(encode_audio(np.zeros(13 * RATE), RATE))
        assert "send at most 12 s" in error_of(socket)
        socket.send(encode_audio(np.full(100, np.nan), RATE))
        assert "NaN" in error_of(socket)
        socket.send(json.dumps({"layer": "pool"}))
        assert "is not a layer with a map over time" in error_of(socket)
        socket.send(encode_audio(music(music_clips), RATE))
        assert next_window(socket)[0]["channels"] == 128  # still serving this client


def test_every_window_is_processed_or_dropped_and_the_newest_always_comes_back(music_server, music_clips) -> None:
    silence, song = encode_audio(np.zeros(3 * RATE), RATE), encode_audio(music(music_clips), RATE)
    with connect(music_server.url.replace("http", "ws") + "/ws/live", max_size=None) as socket:
        for _ in range(29):  # as fast as it can: whatever the model cannot keep up with is dropped, not queued
            socket.send(silence)
        socket.send(song)
        last, payload = next_window(socket)
        while True:
            try:
                last, payload = next_window(socket, timeout=2)
            except TimeoutError:
                break
        assert last["frame"] + last["dropped"] == 30
        assert np.frombuffer(payload[last["channels"] * last["steps"]:], np.uint8).max() == 255  # the song, sent last


def test_sound_uploads_are_checked_and_bounded(music_server, music_clips) -> None:
    clip = sorted(music_clips.rglob("*.wav"))[0].read_bytes()
    good = httpx.post(music_server.url + "/api/upload", content=clip)
    assert good.status_code == 200 and good.json()["seconds"] == 3.0
    played = httpx.get(music_server.url + good.json()["url"])
    assert played.headers["content-type"] == "audio/wav" and soundfile.info(__import__("io").BytesIO(played.content)).samplerate == RATE
    bad = httpx.post(music_server.url + "/api/upload", content=b"not a sound at all")
    assert bad.status_code == 400 and "is not audio" in bad.json()["error"]
    huge = httpx.post(music_server.url + "/api/upload", content=b"\0" * (11 << 20))
    assert huge.status_code == 413 and "send a smaller sound" in huge.json()["error"]


def test_the_page_of_an_audio_model_listens(music_server) -> None:
    page = httpx.get(music_server.url + "/").text
    assert "source-microphone" in page and "live_audio.js" in page and "source-camera" not in page
    model = httpx.get(music_server.url + "/api/model").json()
    assert model["modality"] == "audio" and model["audio"] == {"sample_rate": RATE, "clip_seconds": 3.0}
    assert model["default_layer"] == "conv3" and not model["classes"]
    assert httpx.get(music_server.url + "/static/live_audio.js").status_code == 200
