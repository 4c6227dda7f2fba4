"""`featurelens dream` end to end through the real entry point (in-process), and its one-line errors."""

from __future__ import annotations


import pytest
from PIL import Image

from featurelens.photos import bundled_photos




@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("dream") / "chelsea.png"
    bundled_photos()[1].crop((100, 50, 196, 130)).save(path)  # 96 × 80, not square
    return path


def test_dream_writes_a_png_at_the_input_size_and_octaves(main_cli, photo, tmp_path) -> None:
    out = tmp_path / "out.png"
    code, err = main_cli("dream", str(photo), "--objective", "_blocks.5", "--octaves", "2", "--steps", "2",
                    "--out", str(out), "--save-octaves", "--device", "cpu")
    assert code == 0, err
    assert Image.open(out).size == (96, 80)
    assert [Image.open(tmp_path / f"out_octave{i}.png").size for i in range(2)] == [(69, 57), (96, 80)]
    assert (tmp_path / "out.json").is_file() and "_blocks.5" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tile", "16"], "--tile 16 is below the minimum input size 32"),
        (["--tile", "64", "--objective", "_blocks.8"], "its receptive field needs 112 pixels of margin"),
        (["--objective", "_blokcs.8"], "unknown layer '_blokcs.8'"),
        (["--octave-scale", "1"], "--octave-scale must be above 1"),
        (["--guide", "missing.png"], "image 'missing.png' not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(main_cli, photo, args, message) -> None:
    code, err = main_cli("dream", str(photo), *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_unreadable_image_is_one_line_and_exit_2(main_cli, tmp_path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, err = main_cli("dream", str(broken))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "cannot read image" in err
