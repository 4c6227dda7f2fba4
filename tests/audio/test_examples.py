"""`examples` on an audio model: equal to ranking each clip alone, excerpts that are exactly what a unit hears,
every awkward file handled and said, the command's pages, and units that mean something on the built-in collection."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

import featurelens as fl
from featurelens.audio.instruments import FAMILIES
from featurelens.audio.sources import LoadReport, load_clip
from featurelens.capture import capture_activations
from featurelens.dataset_examples import ExamplesSettings, plan_examples

RATE = 16000


@pytest.fixture(scope="module")
def awkward_folder(tmp_path_factory):
    """Fourteen files: tones and noise of four lengths, one stereo, one at 44.1 kHz, an mp3 at 22.05 kHz, one shorter
    than the network's receptive field, one silent, one broken."""
    folder = tmp_path_factory.mktemp("awkward")
    rng = np.random.default_rng(0)
    t = np.arange(3 * RATE) / RATE
    for i in range(5):  # notes that start at different times: the peak moves with them
        # Quiet noise under each note: no two clips share an exactly equal stretch (whose ties only float
        # rounding, batched or alone, would break).
        note = 0.2 * np.sin(2 * np.pi * 110 * (i + 1) * t) * (t > 0.4 * i) + rng.normal(0, 0.01, t.shape)
        soundfile.write(folder / f"tone{i}.wav", note.astype(np.float32), RATE)
    for i, seconds in enumerate((1.0, 2.0, 4.5)):
        soundfile.write(folder / f"noise{i}.flac", rng.normal(0, 0.05 * (i + 1), int(seconds * RATE)).astype(np.float32), RATE)
    soundfile.write(folder / "stereo.wav", rng.normal(0, 0.1, (2 * RATE, 2)).astype(np.float32), RATE)
    (folder / "sub").mkdir()
    soundfile.write(folder / "sub" / "cd.wav", rng.normal(0, 0.1, 44100 * 2).astype(np.float32), 44100)
    soundfile.write(folder / "song.mp3", rng.normal(0, 0.1, 22050 * 2).astype(np.float32), 22050)
    soundfile.write(folder / "short.wav", rng.normal(0, 0.1, 3000).astype(np.float32), RATE)
    soundfile.write(folder / "silence.ogg", np.zeros(RATE, np.float32), RATE)
    (folder / "broken.wav").write_bytes(b"RIFF....WAVE not really")
    return folder


def brute_force(model, folder, layer: str, reduce: str, k: int):
    """Each readable clip alone through front end and network; per channel the top-k (score desc, entry asc)."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix in (".wav", ".flac", ".ogg", ".mp3"))
    min_samples = (model.min_size - 1) * model.audio.hop_length
    scores, steps, indices = [], [], []
    for index, path in enumerate(paths):
        clip = load_clip(path, path.name, RATE, LoadReport(), min_samples)
        if clip is None:
            continue
        act = capture_activations(model.module, model.audio.spectrogram(torch.from_numpy(clip.audio)), [layer])[layer][0]
        act = act.reshape(act.shape[0], -1)
        scores.append(act.amax(1) if reduce == "max" else act.mean(1))
        steps.append(act.argmax(1))
        indices.append(index)
    scores, steps = torch.stack(scores, 1), torch.stack(steps, 1)  # [C, clips]
    order = [sorted(range(len(indices)), key=lambda j: (-float(row[j]), indices[j]))[:k] for row in scores]
    return (np.array([[indices[j] for j in o] for o in order]), np.array([[float(scores[c, j]) for j in o] for c, o in enumerate(order)]),
            np.array([[int(steps[c, j]) for j in o] for c, o in enumerate(order)]))


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_audio_examples_equal_brute_force(music_cnn, awkward_folder, reduce):
    result = fl.examples(music_cnn, str(awkward_folder), "conv3,fc1", k=4, reduce=reduce, batch_size=3)
    for layer in ("conv3", "fc1"):
        indices, scores, steps = brute_force(music_cnn, awkward_folder, layer, reduce, 4)
        ranked = result.layer(layer).ranked["max"]
        np.testing.assert_array_equal(ranked.indices, indices)
        np.testing.assert_allclose(ranked.scores, scores, rtol=1e-5, atol=1e-5)
        if reduce == "max":
            np.testing.assert_array_equal(ranked.x, steps)


def test_excerpts_lie_in_their_clips_and_are_what_the_unit_hears(music_cnn, awkward_folder):
    result = fl.examples(music_cnn, str(awkward_folder), "conv2,conv3", k=2)
    rows = list(result.examples())
    rng = np.random.default_rng(1)
    for row in rows:
        field = result.layer(row.layer).receptive_field
        assert 0 <= row.start <= row.peak <= row.end <= row.duration
        heard = ((field.size - 1) * field.hop_length + field.window) / RATE  # the whole field, where not clipped
        assert row.end - row.start == pytest.approx(heard) or row.start == 0 or row.end == row.duration
    for row in rows[::7]:  # noise outside the excerpt leaves the unit's value at its step unchanged
        clip = result.inputs.clip(row.index)
        start, end = round(row.start * RATE), round(row.end * RATE)
        changed = clip + rng.normal(0, 0.3, clip.shape).astype(np.float32)
        changed[start:end] = clip[start:end]
        values = [capture_activations(music_cnn.module, music_cnn.audio.spectrogram(torch.from_numpy(x)), [row.layer])[row.layer]
                  [0, row.channel, row.step] for x in (clip, changed)]
        assert float(values[0]) == pytest.approx(row.score, abs=1e-5) and torch.equal(values[0], values[1])


def test_awkward_files_are_handled_and_said_once(music_cnn, awkward_folder):
    result = fl.examples(music_cnn, str(awkward_folder), "conv3", k=2, batch_size=4)
    assert result.entries == 14 and result.items_seen == 13  # everything but the broken file was heard
    assert [s.item for s in result.skipped] == ["broken.wav"]
    notes = " | ".join(result.notes)
    assert notes.count("44100 Hz resampled to 16000 Hz") == 1 and notes.count("22050 Hz resampled to 16000 Hz") == 1
    assert "1 multichannel file(s) mixed to mono" in notes
    assert "1 silent file(s) kept" in notes and "1 file(s) shorter than the network's 0.74 s receptive field zero-padded" in notes
    short = next(i for i in range(len(result.source)) if result.source.item(i) == "short")
    assert result.source.samples[short] == (music_cnn.min_size - 1) * music_cnn.audio.hop_length
    summary = result.summary()
    assert summary["skipped_count"] == 1 and summary["resampled"] == {"22050": 1, "44100": 1}
    assert summary["silent"] == ["silence.ogg"]


def test_command_writes_pages_that_play_clips_and_excerpts(main_cli, awkward_folder, tmp_path):
    out = tmp_path / "ex"
    code, err = main_cli("examples", "--model", "music-cnn", "--data", str(awkward_folder), "--layers", "conv3",
                         "--k", "2", "--out", str(out))
    assert code == 0, err
    assert err.count("44100 Hz resampled to 16000 Hz") == 1 and "13 clips" in err and "skipped 1 unreadable" in err
    page = (out / "layer-conv3.html").read_text()
    parts = [page] + [(out / f"layer-conv3-{n}.html").read_text() for n in range(2, 5)]  # 256 players a page
    assert [part.count("<audio") for part in parts] == [256] * 4 and 'src="excerpts/conv3/c0000-max01.wav"' in page
    excerpt, rate = soundfile.read(out / "excerpts/conv3/c0000-max01.wav")
    assert rate == RATE and 0 < len(excerpt) <= 0.8 * RATE + 1
    code, err = main_cli("examples", "--model", "music-cnn", "--data", str(awkward_folder), "--layers", "conv3",
                         "--project", "deconvnet", "--out", str(tmp_path / "no"), "--dry-run")
    assert code == 2 and "--project is not available for an audio model" in err


def test_units_mean_something_in_the_examples(music_cnn, small_collection, small_labels):
    """Acceptance: for each family (drums included) some conv3 unit has at least 7 of its top-9 clips from it,
    through `examples` itself (tests/audio/test_units.py measures the same from raw peaks: 9 9 9 9 8 9 9)."""
    result = fl.examples(music_cnn, str(small_collection.folder), "conv3", k=9)
    assert result.items_seen == len(small_labels)
    ranked = result.layer("conv3").ranked["max"]
    families = np.array([[result.source.label(int(i)).split(" · ")[0] for i in row] for row in ranked.indices])
    best = {family: int((families == family).sum(1).max()) for family in FAMILIES}
    assert all(hits >= 7 for hits in best.values()), best


def test_the_built_in_collection_is_found_or_its_absence_said(music_cnn, monkeypatch, tmp_path, small_collection):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(fl.FeaturelensError, match="music collection is not made yet .*featurelens music make"):
        plan_examples(music_cnn, "music", "conv3")
    home_collection = tmp_path / ".cache" / "featurelens" / "music-collection"
    home_collection.parent.mkdir(parents=True)
    home_collection.symlink_to(small_collection.folder)
    plan = plan_examples(music_cnn, "music", "conv3", ExamplesSettings(limit=8))
    assert plan.source.name == "music" and plan.entries == 8 and "8 audio files of music" in plan.describe()
    assert plan.source.label(0).split(" · ")[0] in FAMILIES


def test_ctrl_c_keeps_the_clips_ranked_so_far_and_stops_the_reading_threads(music_cnn, awkward_folder):
    import threading

    def interrupt_after_two_batches(done, total):
        if done >= 6:
            raise KeyboardInterrupt

    before = threading.active_count()
    result = fl.examples(music_cnn, str(awkward_folder), "conv3", k=2, batch_size=3, progress=interrupt_after_two_batches)
    assert result.interrupted and 0 < result.items_seen < 12
    assert threading.active_count() == before  # the front-end and reading threads are gone
    ranked = result.layer("conv3").ranked["max"].indices
    assert len(set(ranked.ravel().tolist())) <= result.items_seen  # only clips that went through the network are ranked


def test_an_interrupted_pass_continues_from_its_checkpoint_to_the_uninterrupted_result(music_cnn, awkward_folder, tmp_path):
    whole = fl.examples(music_cnn, str(awkward_folder), "conv3,fc1", k=4, batch_size=2)
    checkpoint = tmp_path / "checkpoint.pt"

    def interrupt_after_two_batches(done, total):
        if done >= 5:
            raise KeyboardInterrupt

    first = fl.examples(music_cnn, str(awkward_folder), "conv3,fc1", k=4, batch_size=2, checkpoint=checkpoint,
                        progress=interrupt_after_two_batches)
    assert first.interrupted and checkpoint.is_file() and first.items_seen < whole.items_seen
    plan = plan_examples(music_cnn, str(awkward_folder), "conv3,fc1", ExamplesSettings(k=4, batch_size=2, checkpoint=checkpoint))
    assert any(note.startswith("resuming from") for note in plan.notes)
    rest = plan.run()
    assert not rest.interrupted and not checkpoint.exists()  # done: the checkpoint goes
    assert rest.items_seen == whole.items_seen and rest.entries == whole.entries
    for layer in ("conv3", "fc1"):
        for kind in ("max", "min"):
            ours, theirs = rest.layer(layer).ranked[kind], whole.layer(layer).ranked[kind]
            np.testing.assert_array_equal(ours.indices, theirs.indices)
            np.testing.assert_allclose(ours.scores, theirs.scores, rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(ours.x, theirs.x)
    assert rest.notes == whole.notes  # each awkward file said once, however many runs it took
    with pytest.raises(fl.FeaturelensError, match="resume"):
        fl.examples(music_cnn, str(awkward_folder), "conv3", k=4, checkpoint=checkpoint, resume=True)  # none left to continue


def test_a_network_with_two_d_maps_continues_from_its_checkpoint_to_the_uninterrupted_result(music_cnn, awkward_folder):
    """Maps [C, H, T] are as wide as each clip is long: the widths of the clips ranked so far go into the checkpoint, so
    each example's (y, x) reads back the same after a resume; a batch size above the network's maximum is lowered."""
    from dataclasses import replace

    from featurelens.audio.modality import AudioModality
    from featurelens.dataset_examples.run import plan_pass

    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Unflatten(1, (1, music_cnn.audio.channels)), torch.nn.Conv2d(1, 4, 3, stride=(4, 2)))
    audio = replace(music_cnn.audio, map_height=music_cnn.audio.channels, max_batch=2)
    model = fl.LoadedModel(network.eval(), "two-d", music_cnn.input_size, music_cnn.in_channels, (0.0,), (1.0,),
                           min_size=music_cnn.min_size, modality=AudioModality(audio))
    plan = lambda: plan_pass(model, str(awkward_folder), "1", k=3, batch_size=3)
    assert plan().notes == ["two-d runs at most 2 clips at once (batch size 3 lowered)"]
    whole = plan().run()
    states, calls = [], []

    def interrupt_after_three_batches(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    first = plan().run(None, 2, states.append, interrupt_after_three_batches)
    assert first.interrupted and states and states[-1].widths["1"]  # clips of other lengths than the model's own
    rest = plan().run(states[-1])
    for kind in ("max", "min"):
        ours, theirs = rest.layer("1").ranked[kind], whole.layer("1").ranked[kind]
        np.testing.assert_array_equal(ours.indices, theirs.indices)
        np.testing.assert_array_equal(ours.y, theirs.y)
        np.testing.assert_array_equal(ours.x, theirs.x)
    assert (rest.entries, rest.items_seen, rest.skipped, rest.notes) == (whole.entries, whole.items_seen, whole.skipped, whole.notes)
