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


def test_torchcrepe_logit_pages_load_fast_with_pitch_labels_and_reach_every_bin(chromium, music_clips, tmp_path):
    """360 pitch bins × 6 clips × 2 players were 12 960 <audio> elements on one page (40 s to load): now pages of a
    few hundred, linked in order, each bin headed by its frequency (torchcrepe's own bin → Hz)."""
    import re
    import time

    import torch

    from featurelens.audio.crepe import import_torchcrepe

    result = fl.examples("torchcrepe:tiny", str(music_clips), "logit", k=3)
    index = result.save(tmp_path / "out")
    page = chromium.new_page()
    url = (index.parent / "layer-logit.html").as_uri()
    seen: set[int] = set()
    visited = set()
    convert = import_torchcrepe().convert
    while url not in visited:
        visited.add(url)
        start = time.perf_counter()
        page.goto(url, wait_until="load")
        assert time.perf_counter() - start < 5.0
        assert 0 < page.locator("audio").count() <= 300
        headings = page.locator("section h2").all_inner_texts()
        for heading in headings:
            channel, hertz = re.fullmatch(r"channel (\d+) · ([\d.]+) Hz", heading).groups()
            expected = float(convert.cents_to_frequency(torch.tensor(1997.3794084376191 + 20.0 * int(channel))))
            assert float(hertz) == pytest.approx(expected, abs=0.051 if expected < 100 else 0.51)
            seen.add(int(channel))
        following = page.locator("nav.parts a.next").first
        if following.count():
            url = following.evaluate("a => a.href")
    assert seen == set(range(360)) and len(visited) > 1
    links = page.locator("nav.parts").first.locator("a.part, strong").all_inner_texts()
    assert len(links) == len(visited) and links[0].startswith("0–")
    page.close()
