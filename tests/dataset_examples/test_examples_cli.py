"""`featurelens examples` end to end: outputs, unreadable files reported, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from featurelens.photos import bundled_photos




@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """Real photos in several formats and modes, in nested folders, plus two unreadable files."""
    root = tmp_path / "images"
    (root / "sub" / "deeper").mkdir(parents=True)
    photos = bundled_photos()
    photos[0].resize((64, 48)).save(root / "astronaut.jpg")
    photos[1].resize((40, 40)).convert("L").save(root / "sub" / "chelsea_grey.png")
    photos[2].resize((50, 60)).convert("RGBA").save(root / "sub" / "coffee.webp")
    photos[3].resize((30, 30)).save(root / "sub" / "deeper" / "rocket.bmp")
    (root / "broken.jpg").write_bytes(b"this is not a jpeg at all")
    good = root / "sub" / "truncated.png"
    photos[4].resize((40, 40)).save(good)
    good.write_bytes(good.read_bytes()[:200])
    (root / "notes.txt").write_text("not an image, not counted")
    return root


def test_folder_run_writes_table_crops_pages_and_reports_unreadable_files(main_cli, mixed_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, err = main_cli("examples", "--data", str(mixed_folder), "--model", "fashion-cnn",
                         "--layers", "conv2,conv3", "--k", "3", "--out", str(out))
    assert code == 0, err
    assert "skipped 2 unreadable file(s)" in err and "broken.jpg" in err and "sub/truncated.png" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["items_seen"] == 4 and summary["entries"] == 6 and summary["skipped_count"] == 2
    assert sorted(s["item"] for s in summary["skipped"]) == ["broken.jpg", "sub/truncated.png"]
    table = pq.read_table(out / "examples.parquet").to_pydict()
    assert set(table["item"]) <= {"astronaut.jpg", "sub/chelsea_grey.png", "sub/coffee.webp", "sub/deeper/rocket.bmp"}
    assert len(table["layer"]) == (64 + 128) * 2 * 3
    assert not (out / "checkpoint.pt").exists()
    for page in ("index.html", "layer-conv2.html", "layer-conv3.html"):
        assert (out / page).is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "no/such/folder"], "data source 'no/such/folder' not found"),
        (["--data", "{empty}"], "no images in"),
        (["--data", "fashion-mnist:validation"], "unknown built-in source 'fashion-mnist:validation'"),
        (["--layers", "conv33"], "unknown layer 'conv33'; closest: conv3"),
        (["--layers", "relu 2"], "unknown layer 'relu 2'; closest: relu2"),
        (["--k", "0"], "--k must be a positive number"),
        (["--k", "-4"], "--k must be a positive number"),
        (["--reduce", "median"], "unknown --reduce 'median'"),
        (["--batch-size", "0"], "--batch-size must be positive"),
        (["--resume"], "--resume: no checkpoint in"),
        (["--data", "{corrupt}"], "none of the 2 files could be read"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(main_cli, tmp_path: Path, fashion_data, args: list[str], message: str) -> None:
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "corrupt" / "b.jpg").write_bytes(b"")
    options = {"--data": "fashion-mnist:test", "--layers": "conv3", "--model": "fashion-cnn", "--limit": "64", "--out": str(tmp_path / "out")}
    for name, value in zip(args[::2], args[1::2]):
        options[name] = value.format(empty=tmp_path / "empty", corrupt=tmp_path / "corrupt")
    flags = [a for a in args if a == "--resume"]
    argv = [part for pair in options.items() for part in pair] + flags
    code, err = main_cli("examples", *argv)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0]


def test_entry_point_runs_in_a_subprocess(featurelens_cli, tmp_path: Path, fashion_data) -> None:
    done = featurelens_cli("examples", "--data", "fashion-mnist:test", "--limit", "100", "--model", "fashion-cnn",
                           "--layers", "pool3", "--k", "2", "--reduce", "mean", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "images/s" in done.stderr
    table = pq.read_table(tmp_path / "examples.parquet")
    assert table.column("item").type == "int64" and max(table.column("item").to_pylist()) < 100
    done = featurelens_cli("examples", "--data", "fashion-mnist:test", "--layers", "pool", "--model", "fashion-cnn")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "closest: pool3, pool2, pool1" in done.stderr


def test_greyscale_and_colour_files_become_what_the_model_expects(main_cli, mixed_folder: Path, tmp_path: Path) -> None:
    """fashion-cnn reads 1 channel at 28 px; the thumbnails written are those model inputs."""
    out = tmp_path / "out"
    code, err = main_cli("examples", "--data", str(mixed_folder), "--model", "fashion-cnn",
                         "--layers", "conv1", "--k", "1", "--out", str(out))
    assert code == 0, err
    thumbs = sorted((out / "inputs").glob("*.png"))
    assert thumbs and all(np.asarray(Image.open(p)).shape == (28, 28) for p in thumbs)
