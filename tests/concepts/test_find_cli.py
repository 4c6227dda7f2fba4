"""`featurelens find` on the command line, as a user runs it on folders of PNG files: hostile file names stay text,
unreadable files are skipped and counted, mistakes are one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist

HOSTILE = '"><img src=x onerror=window.__pwned=1>.png'  # runs wherever the name is pasted as markup, in text or an attribute


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """12 trousers (one with a hostile name, plus one corrupt file) and 40 other test items, as PNG files."""
    root = tmp_path_factory.mktemp("find-cli")
    images, labels = load_fashion_mnist("test")
    trousers = (labels == FASHION_CLASSES.index("Trouser")).nonzero().flatten()[:12].tolist()
    others = (labels != FASHION_CLASSES.index("Trouser")).nonzero().flatten()[:40].tolist()
    positives, negatives = root / "trousers", root / "others"
    positives.mkdir()
    negatives.mkdir()
    for rank, index in enumerate(trousers):
        name = HOSTILE if rank == 0 else f"{index:04d}.png"
        Image.fromarray(images[index].numpy(), mode="L").save(positives / name)
    (positives / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    for index in others:
        Image.fromarray(images[index].numpy(), mode="L").save(negatives / f"{index:04d}.png")
    return positives, negatives


def test_a_run_writes_the_page_with_hostile_names_as_text_and_counts_the_corrupt_file(main_cli, folders, tmp_path, chromium) -> None:
    positives, negatives = folders
    out = tmp_path / "out"
    code, err = main_cli("find", "-m", "fashion-cnn", "--layers", "conv3", "--positives", str(positives), "--negatives", str(negatives),
                         "--steps", "2", "--units", "2", "--k", "3", "--crops", "0", "--out", str(out), "--device", "cpu")
    assert code == 0, err
    assert "skipped 1 unreadable file(s): broken.png" in err
    assert re.search(r"wrote .*index\.html: best conv3:\d+ \(AUC 0\.\d{3}\) of 128 units; 12 positives", err)
    html = (out / "index.html").read_text()
    assert "<img src=x" not in html and "broken.png" in html
    page = chromium.new_page()
    try:
        page.goto((out / "index.html").as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("() => window.__pwned") is None
        assert page.eval_on_selector_all("[onerror]", "nodes => nodes.length") == 0
        assert HOSTILE in page.inner_text("body")  # the name is shown, as text
    finally:
        page.close()
    summary = json.loads((out / "ranking.json").read_text())
    assert summary["skipped_count"] == 1 and summary["positives"]["images"] == 12
    assert summary["negatives"] == {"source": str(negatives), "images": 40, "crops": 0, "dropped_as_positives": 0}
    assert (out / "concept-conv3.npy").is_file() and len(list((out / "renders").glob("*.png"))) == 3


def test_a_dry_run_says_what_would_run_with_the_default_negatives(main_cli, folders, tmp_path) -> None:
    positives, _ = folders
    code, err = main_cli("find", "-m", "fashion-cnn", "--layers", "conv3", "--positives", str(positives), "--out", str(tmp_path / "o"), "--dry-run")
    assert code == 0, err
    assert "note: negatives: fashion-mnist:test (the model's own test data" in err
    assert main_cli.out.startswith("would find the units of conv3 of fashion-cnn") and "13 positive(s) from fashion-mnist:test" in main_cli.out
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("--layers", "conv9"), "unknown layer 'conv9'; closest: conv3"),
    (("--layers", "conv3", "--reduce", "median"), "unknown --reduce 'median': use max or mean"),
    (("--layers", "conv3", "--negatives", "nowhere"), "--negatives: data source 'nowhere' not found"),
])
def test_mistakes_are_one_line(main_cli, folders, tmp_path, args, message) -> None:
    positives, _ = folders
    code, err = main_cli("find", "-m", "fashion-cnn", "--positives", str(positives), *args, "--out", str(tmp_path / "o"))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_an_empty_or_unreadable_positives_folder_is_one_line(main_cli, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = main_cli("find", "-m", "fashion-cnn", "--layers", "conv3", "--positives", str(empty), "--out", str(tmp_path / "o"))
    assert code == 2 and "--positives: no images in" in err and len(err.strip().splitlines()) == 1, err
    (empty / "broken.png").write_bytes(b"nothing")
    code, err = main_cli("find", "-m", "fashion-cnn", "--layers", "conv3", "--positives", str(empty), "--limit", "8", "--out", str(tmp_path / "o"))
    assert code == 2 and "--positives has no image that could be read: 1 unreadable file(s) (e.g. broken.png" in err, err


def test_the_same_seed_gives_the_same_ranking_direction_and_renders(folders) -> None:
    import numpy as np

    import featurelens as fl

    positives, negatives = folders
    runs = [fl.find("fashion-cnn", "conv3", positives, negatives, crops=1, steps=2, units=1, k=2, seed=5, device="cpu", progress=False)
            for _ in range(2)]
    first, second = runs
    assert first.positive_counts.crops == 12 and first.negative_counts.crops == 40
    assert [u.to_dict() for u in first.ranking] == [u.to_dict() for u in second.ranking]
    np.testing.assert_array_equal(first.direction("conv3"), second.direction("conv3"))
    np.testing.assert_array_equal(first.images, second.images)
    assert first.top_examples("conv3", first.top[0].channel) == second.top_examples("conv3", second.top[0].channel)
