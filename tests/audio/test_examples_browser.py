"""The examples page of an audio model in a real browser (Debian's Chromium through Playwright), opened from disk:
a unit's top clip and its excerpt load and play, and its spectrogram decodes."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

import featurelens as fl
from tests.conftest import PLAY_AUDIO


def test_the_page_plays_a_units_top_clip(chromium, music_cnn, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    t = np.arange(2 * 16000) / 16000
    for i, hertz in enumerate((220, 330, 440, 660)):
        soundfile.write(folder / f"note{i}.wav", (0.2 * np.sin(2 * np.pi * hertz * t)).astype(np.float32), 16000)
    result = fl.examples(music_cnn, str(folder), "conv3", k=2)
    index = result.save(tmp_path / "out")
    page = chromium.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((index.parent / "layer-conv3.html").as_uri())
    top = page.locator("#c0 audio.whole-clip").first
    duration, playing, position = top.evaluate(PLAY_AUDIO)
    assert duration == pytest.approx(2.0, abs=0.01) and playing and position > 0
    excerpt_duration, playing, _ = page.locator("#c0 audio.excerpt").first.evaluate(PLAY_AUDIO)
    row = next(result.examples())
    assert excerpt_duration == pytest.approx(row.end - row.start, abs=0.01) and playing
    width = page.locator("#c0 img").first.evaluate("img => img.decode().then(() => img.naturalWidth)")
    assert width == 126  # one pixel a frame: 2 s at a hop of 256 samples, 16 kHz, and one more
    page.close()
    assert all(url.startswith("file:") for url in requests)
