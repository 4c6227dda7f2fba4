"""`featurelens samples DIR` / `fl.samples`: the README's sample inputs as files, the same bytes every time."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import featurelens as fl
from featurelens.data import fashion_mnist
from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist
from featurelens.models.fashion_cnn import shipped_training_checkpoints
from featurelens.photos import PHOTO_NAMES, bundled_photos
from featurelens.sample_inputs import class_slug

pytestmark = pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")
README_NAMES = ["cat.jpg", "coffee.jpg", "astronaut.jpg", "motorcycle.jpg", "shirt.png", "trouser.png", "first.pt", "last.pt",
                "photos/cat.jpg", "checkpoints/step0000.pt"]
HAS_SONGS = os.path.isfile("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def digests(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One `featurelens samples DIR` run, as a user types it: (folder, the process)."""
    from tests.conftest import run_featurelens  # noqa: PLC0415  (the subprocess runner the featurelens_cli fixture returns)

    folder = tmp_path_factory.mktemp("samples") / "samples"
    done = run_featurelens("samples", str(folder), timeout=300)
    return folder, done


def test_the_command_writes_every_named_file_and_says_what(written) -> None:
    folder, done = written
    assert done.returncode == 0, done.stderr[-2000:]
    for name in README_NAMES:
        assert (folder / name).is_file(), name
    assert sorted(path.stem for path in (folder / "photos").glob("*.jpg")) == sorted(PHOTO_NAMES)
    assert len(list((folder / "fashion").glob("*.png"))) == 20
    assert f"wrote {len(digests(folder))} files into {folder}" in done.stderr
    assert "photos 21" in done.stderr and "fashion 30" in done.stderr and "checkpoints 9" in done.stderr


def test_photos_are_the_bundled_photos_as_rgb_jpegs(written) -> None:
    folder, _ = written
    photos = dict(zip(PHOTO_NAMES, bundled_photos(), strict=True))
    for name, photo in photos.items():
        with Image.open(folder / "photos" / f"{name}.jpg") as image:
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == photo.size, name
            difference = np.abs(np.asarray(image, np.int16) - np.asarray(photo, np.int16)).mean()
            assert difference < 4, (name, difference)  # JPEG at quality 95: the same picture
    assert (folder / "cat.jpg").read_bytes() == (folder / "photos" / "cat.jpg").read_bytes()


def test_fashion_items_are_the_datasets_pixels_named_by_class(written) -> None:
    folder, _ = written
    images, labels = load_fashion_mnist("test")
    for path in (folder / "fashion").glob("*.png"):
        index, name = path.stem.split("-", 1)
        with Image.open(path) as image:
            assert image.mode == "L" and image.size == (28, 28)
            assert np.array_equal(np.asarray(image), images[int(index)].numpy()), path.name
        assert name == class_slug(FASHION_CLASSES[int(labels[int(index)])])
    shirt = int((labels == FASHION_CLASSES.index("Shirt")).nonzero()[0])  # the first shirt of the test split
    with Image.open(folder / "shirt.png") as image:
        assert np.array_equal(np.asarray(image), images[shirt].numpy())
    assert (folder / "fashion" / f"{shirt:04d}-shirt.png").is_file()
    assert sorted(path.name for path in folder.glob("*.png")) == sorted(
        ["t-shirt.png", "trouser.png", "pullover.png", "dress.png", "coat.png", "sandal.png", "shirt.png", "sneaker.png",
         "bag.png", "ankle-boot.png"])


def test_checkpoints_load_and_equal_the_shipped_ones(written) -> None:
    folder, _ = written
    shipped = shipped_training_checkpoints()
    assert sorted(path.name for path in (folder / "checkpoints").glob("*.pt")) == [path.name for path in shipped]
    for copy, source in [(folder / "first.pt", shipped[0]), (folder / "last.pt", shipped[-1])] + [
            (folder / "checkpoints" / path.name, path) for path in shipped]:
        ours, theirs = torch.load(copy, weights_only=True), torch.load(source, weights_only=True)
        assert ours["label"] == theirs["label"]
        assert all(torch.equal(ours["state_dict"][k], theirs["state_dict"][k]) for k in theirs["state_dict"])
    assert torch.load(folder / "first.pt", weights_only=True)["label"] == "init"


@pytest.mark.skipif(not HAS_SONGS, reason="apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm")
def test_songs_are_wav_clips_of_three_seconds(written) -> None:
    soundfile = pytest.importorskip("soundfile", reason="pip install -e '.[audio]'")
    folder, _ = written
    songs = sorted((folder / "songs").glob("*.wav"))
    assert len(songs) == 4
    for path in songs:
        info = soundfile.info(path)
        assert info.format == "WAV" and info.channels == 1 and info.samplerate == 16000
        assert info.frames == 3 * 16000, path.name
        audio, _ = soundfile.read(path)
        assert np.abs(audio).max() > 0.01  # a played clip, not silence


def test_a_second_run_gives_the_same_bytes_and_says_it_replaced_them(written, featurelens_cli) -> None:
    folder, _ = written
    before = digests(folder)
    again = featurelens_cli("samples", str(folder), timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(before)} files already there replaced" in again.stderr
    assert digests(folder) == before


def test_only_writes_the_chosen_parts_and_the_function_returns_them(tmp_path: Path) -> None:
    result = fl.samples(tmp_path / "out", only="fashion,checkpoints")
    on_disk = sorted(path for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert result.files == on_disk and result.folder == tmp_path / "out"
    assert result.summary()["parts"] == {"fashion": 30, "checkpoints": 9}
    assert not (tmp_path / "out" / "photos").exists() and not (tmp_path / "out" / "songs").exists()
    assert not list((tmp_path / "out").glob("*.jpg")) and result.replaced == 0 and result.skipped == {}


def test_songs_are_skipped_with_a_note_when_the_soundfont_is_missing(tmp_path: Path, monkeypatch) -> None:
    from featurelens.audio import synth

    monkeypatch.setattr(synth, "SOUNDFONT", tmp_path / "absent.sf2")
    result = fl.samples(tmp_path / "out", only=["songs", "checkpoints"])
    assert "fluid-soundfont-gm" in result.skipped["songs"] and not (tmp_path / "out" / "songs").exists()
    assert len(result.files) == 9  # the rest is written


def test_an_unwritable_folder_is_one_line_and_exit_2(tmp_path: Path, featurelens_cli) -> None:
    (tmp_path / "file").write_text("not a folder")
    done = featurelens_cli("samples", str(tmp_path / "file" / "samples"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "is a file, not a folder" in done.stderr
    bad = featurelens_cli("samples", str(tmp_path / "out"), "--only", "photos,videos")
    assert bad.returncode == 2 and "--only takes photos, fashion, songs, checkpoints" in bad.stderr
    assert not (tmp_path / "out").exists()


def test_dry_run_says_what_it_would_write_and_writes_nothing(tmp_path: Path, featurelens_cli) -> None:
    done = featurelens_cli("samples", str(tmp_path / "out"), "--only", "photos", "--dry-run")
    assert done.returncode == 0 and "would write sample inputs into" in done.stdout and "17 photos" in done.stdout
    assert not (tmp_path / "out").exists()


def test_songs_are_skipped_with_a_note_without_the_audio_extra(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # `import fluidsynth` raises ImportError
    result = fl.samples(tmp_path / "out", only="songs")
    assert result.files == [] and "pip install 'featurelens[audio]'" in result.skipped["songs"]


def test_the_command_notes_a_skipped_part_in_one_line_and_succeeds(tmp_path: Path, monkeypatch, main_cli) -> None:
    from featurelens.audio import synth

    monkeypatch.setattr(synth, "SOUNDFONT", tmp_path / "absent.sf2")
    code, err = main_cli("samples", str(tmp_path / "out"), "--only", "songs,checkpoints")
    assert code == 0
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith("note: songs skipped: the General MIDI soundfont")
    assert "apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm" in notes[0]
    assert "wrote 9 files into" in err and "(checkpoints 9)" in err
