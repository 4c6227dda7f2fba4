"""The live page of an audio model in a real browser: Chromium's fake microphone streams real music (a WAV of clips
from the collection maker) through `music-cnn`, and the channels-over-time heat map follows the sound."""

from __future__ import annotations

import pytest

from tests.conftest import PLAY_AUDIO
from tests.server.test_live_page import CANVAS_PIXELS, CANVAS_SPREAD, wait_frames  # the audio page counts its windows in #fps too

ROW_POINT = """(channel) => { const c = document.getElementById('heat-canvas'), box = c.getBoundingClientRect();
    return [box.left + box.width / 2, box.top + (channel + 0.5) / Number(c.dataset.channels) * box.height]; }"""


@pytest.fixture
def listening(microphone_browser, music_server):
    context = microphone_browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["microphone"])
    page = context.new_page()
    page.goto(music_server.url)
    yield page
    context.close()


def test_the_microphone_drives_activations_that_change_over_time(listening) -> None:
    page = listening
    page.click("#source-microphone")
    page.wait_for_function("() => document.getElementById('status').textContent === 'microphone'", timeout=30_000)
    wait_frames(page, 3)
    assert page.get_attribute("#heat-canvas", "data-channels") == "128"  # every channel of conv3, a row each
    assert page.get_attribute("#heat-canvas", "data-steps") == "18"  # its time steps over the 3-s window
    first = page.evaluate(CANVAS_PIXELS, "heat-canvas")
    page.wait_for_timeout(1500)  # half a second of music is a new note or two
    wait_frames(page, 3)
    second = page.evaluate(CANVAS_PIXELS, "heat-canvas")
    assert max(first) > 0 and max(second) > 0  # the music excites the layer
    assert first != second  # and the activations follow it
    assert page.evaluate(CANVAS_SPREAD, "mel-canvas") > 100  # the log-mel shows the music, not silence
    x, y = page.evaluate(ROW_POINT, 5)
    page.mouse.click(x, y)
    assert page.text_content("#unit-title") == "conv3:5"
    page.wait_for_function("() => document.getElementById('unit-trace').dataset.frame !== undefined", timeout=30_000)
    assert "peak" in page.text_content("#unit-figures")


def test_a_units_clips_and_sounds_are_built_on_demand_and_play(listening) -> None:
    page = listening
    page.click("#source-microphone")
    wait_frames(page, 2)
    x, y = page.evaluate(ROW_POINT, 9)
    page.mouse.click(x, y)
    page.wait_for_selector("#unit-build", timeout=30_000)
    page.click("#unit-build")  # renders and the examples pass run in the background (8 steps, 4 clips)
    page.wait_for_selector("#unit-views audio.whole-clip", timeout=120_000)
    assert page.get_attribute("#unit-views", "data-missing") == "", page.text_content("#unit-views")
    assert len(page.query_selector_all("#unit-views .clip .outline")) == 4  # top 2 and bottom 2, each excerpt outlined
    duration, playing, position = page.locator("#unit-views audio.whole-clip").first.evaluate(PLAY_AUDIO)
    assert duration == pytest.approx(3.0, abs=0.01) and playing and position > 0
    render, playing, _ = page.locator("#unit-views audio.render-sound").first.evaluate(PLAY_AUDIO)
    assert render > 0 and playing


def test_an_uploaded_sound_plays_through_the_model_and_a_non_audio_file_gets_a_message(listening, music_clips, tmp_path) -> None:
    page = listening
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("not a sound")
    page.set_input_files("#source-upload", str(not_audio))
    page.wait_for_function("() => !document.getElementById('error').hidden", timeout=30_000)
    assert "is not audio" in page.text_content("#error")
    clip = sorted(music_clips.rglob("*.wav"))[0]
    page.set_input_files("#source-upload", str(clip))
    page.wait_for_function(f"() => document.getElementById('status').textContent === '{clip.name}'", timeout=30_000)
    wait_frames(page, 3)
    assert page.is_hidden("#error"), page.text_content("#error")
    assert max(page.evaluate(CANVAS_PIXELS, "heat-canvas")) > 0
