"""The README works as printed: every Python snippet runs, and every `featurelens …` command line passes
the shell's word splitting and the CLI's `--dry-run` (model, units, inputs and output path checked)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from featurelens.data import fashion_mnist
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.photos import bundled_photos

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def command_lines() -> list[str]:
    """Every `featurelens …` command in the README's bash blocks (also after `&&`), as printed."""
    lines = []
    for body in blocks("bash"):
        for line in body.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("featurelens "):
                    lines.append(part)
    return lines


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, fashion) -> Path:
    """A folder holding the files the README names (cat.jpg, photo.jpg, guide.jpg, shirt.png, ~/photos, inv.pt,
    checkpoints/, first.pt, last.pt)."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    root = tmp_path_factory.mktemp("readme")
    photos = bundled_photos()
    photos[1].save(root / "cat.jpg")
    photos[1].save(root / "photo.jpg")
    photos[0].save(root / "guide.jpg")
    images, _ = load_fashion_mnist("test")
    Image.fromarray(images[0].numpy()).save(root / "shirt.png")
    (root / "photos").mkdir()
    for i in range(3):
        photos[i].resize((96, 96)).save(root / "photos" / f"{i}.jpg")
    shutil.copy(fashion.inverters["pool2"], root / "inv.pt")
    np.save(root / "v.npy", np.ones(112, dtype=np.float32))
    _music_files(root)
    shipped = sorted(Path(fashion.training_checkpoints).glob("*.pt"))
    (root / "checkpoints").mkdir()
    for name, source in (("first.pt", shipped[0]), ("last.pt", shipped[-1])):
        shutil.copy(source, root / name)
        shutil.copy(source, root / "checkpoints" / name)
    return root


def _music_files(root: Path) -> None:
    """~/songs (one clip), music_cnn.pt, and a small collection where `--data music` looks (~/.cache/...), when the
    audio extra is installed: the README's audio lines then pass their dry run."""
    try:
        import soundfile
    except ImportError:  # no audio extra: the README's audio lines fail their dry run and say what to install
        return
    from featurelens.audio.collection import LABELS, TABLE
    from featurelens.audio.network import load_music_cnn, save_music_model

    (root / "songs").mkdir()
    soundfile.write(root / "songs" / "song.wav", np.zeros(16000, np.float32), 16000)
    save_music_model(load_music_cnn(), root / "music_cnn.pt")
    collection = root / ".cache" / "featurelens" / "music-collection"
    (collection / "clips").mkdir(parents=True)
    rows = []
    for i in range(24):
        clip = f"{i // 4:05d}-{i % 4}"
        soundfile.write(collection / "clips" / f"{clip}.wav", np.zeros(16000, np.float32), 16000)
        rows.append({name: 0 for name in LABELS.names} | {"clip": clip, "path": f"clips/{clip}.wav", "family": "piano",
                     "instrument": "piano", "song": str(i // 4), "seconds": 1.0} | {
                     name: "none" for name in ("collection", "title", "register", "mode", "meter")})
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows, schema=LABELS), collection / TABLE)


def test_the_readme_has_a_snippet_per_technique() -> None:
    code = "\n".join(blocks("python"))
    for call in ("fl.render(", "fl.examples(", "fl.project(", "fl.dream(", "fl.invert.decode(", "fl.invert.train(", "fl.atlas("):
        assert call in code, call
    assert len(command_lines()) >= 12


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_snippet_runs_as_printed(workspace, index, monkeypatch) -> None:
    snippet = blocks("python")[index]
    monkeypatch.chdir(workspace)
    done = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, cwd=workspace, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for target in re.findall(r'\.save\("([^"]+)"\)', snippet) + re.findall(r'out="([^"]+)"', snippet):
        assert (workspace / target).exists(), target


@pytest.mark.parametrize("line", command_lines())
def test_command_line_passes_the_dry_run_as_printed(workspace, line, main_cli, monkeypatch) -> None:
    # The shell splits the words (quotes, ~ and comments as a user's shell handles them).
    split = subprocess.run(
        ["bash", "-c", f"set -- {line.removeprefix('featurelens ')}\nprintf '%s\\0' \"$@\""],
        capture_output=True, text=True, cwd=workspace, env={**os.environ, "HOME": str(workspace)},
    )
    assert split.returncode == 0, split.stderr
    args = [a for a in split.stdout.split("\0") if a]
    at = args.index("--") if "--" in args else len(args)
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("HOME", str(workspace))
    code, err = main_cli(*args[:at], "--dry-run", *args[at:])
    assert code == 0, err
