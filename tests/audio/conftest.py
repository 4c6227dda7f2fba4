"""Shared audio fixtures: one small collection rendered for real per session (≈ 20 s for 280 clips on one core)."""

from __future__ import annotations

from pathlib import Path

import pytest

for module in ("music21", "fluidsynth", "implicit", "soundfile", "scipy"):
    pytest.importorskip(module, reason=f"{module} missing: pip install -e '.[audio]'")
if not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file():
    pytest.skip("General MIDI soundfont missing: apt-get install -y --no-install-recommends fluidsynth "
                "fluid-soundfont-gm", allow_module_level=True)

# A seed other than the shipped model's training collection (seed 0): these are fresh renders.
TEST_SEED = 11
TEST_CLIPS = 280


@pytest.fixture(scope="session")
def small_collection(tmp_path_factory):
    """280 freshly rendered 3-second clips (70 songs × 4 instrument families each)."""
    from featurelens.audio.collection import make_collection

    return make_collection(tmp_path_factory.mktemp("collection"), clips=TEST_CLIPS, seconds=3.0, seed=TEST_SEED)


@pytest.fixture(scope="session")
def small_labels(small_collection):
    return small_collection.labels()


@pytest.fixture(scope="session")
def small_log_mels(small_collection, small_labels):
    """Log-mel spectrograms [N, 64, 188] of the small collection, with the shipped model's front end."""
    from featurelens.audio.coldstart import log_mels_of
    from featurelens.audio.collection import read_clips
    from featurelens.audio.frontend import LogMel

    return log_mels_of(read_clips(small_collection.folder, small_labels), LogMel())


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """These small networks run as fast on one thread, and two threads stall whenever the other core is busy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
