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

import featurelens as fl
from featurelens.data import fashion_mnist

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
    """A folder as a newcomer's clone is after the README's `featurelens samples samples` (written by `fl.samples`, what
    that command runs), plus the files earlier README lines would have made: inv.pt, music_cnn.pt, v.npy."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    root = tmp_path_factory.mktemp("readme")
    fl.samples(root / "samples")
    shutil.copy(fashion.inverters["pool2"], root / "inv.pt")
    np.save(root / "v.npy", np.ones(112, dtype=np.float32))
    _music_files(root)
    return root


def _music_files(root: Path) -> None:
    """music_cnn.pt, a small collection where `--data music` looks (~/.cache/...), and samples/songs when FluidSynth
    could not render it (one silent clip), when the audio extra is installed: the README's audio lines then pass their
    dry run."""
    try:
        import soundfile
    except ImportError:  # no audio extra: the README's audio lines fail their dry run and say what to install
        return
    from featurelens.audio.collection import LABELS, TABLE
    from featurelens.audio.network import load_music_cnn, save_music_model

    if not (root / "samples" / "songs").is_dir():
        (root / "samples" / "songs").mkdir(parents=True)
        soundfile.write(root / "samples" / "songs" / "song.wav", np.zeros(16000, np.float32), 16000)
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


def test_every_sample_file_the_readme_names_is_written_by_featurelens_samples(workspace) -> None:
    named = set(re.findall(r"\bsamples/[\w./-]*\w", README.read_text()))
    assert {"samples/cat.jpg", "samples/shirt.png", "samples/photos", "samples/checkpoints", "samples/first.pt"} <= named
    missing = [name for name in sorted(named) if not (workspace / name).exists()]
    assert missing == []
