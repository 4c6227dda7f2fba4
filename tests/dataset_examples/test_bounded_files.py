"""A data folder holding a decompression bomb: the pass skips it before decoding it, counts it and says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from featurelens.dataset_examples import collect_examples

from tests.dataset_examples.conftest import fashion_files
from tests.test_images import bomb


@pytest.fixture(scope="module")
def folder_with_a_bomb(tmp_path_factory) -> Path:
    """Ten Fashion-MNIST images and, between them, a 20 kB PNG of 13000 × 13000 pixels."""
    root = fashion_files(tmp_path_factory.mktemp("with-bomb"), 10, lambda i: f"{i:02d}.png")
    (root / "05-bomb.png").write_bytes(bomb())
    return root


def test_the_pass_skips_the_bomb_and_reports_its_size(fashion, folder_with_a_bomb) -> None:
    result = collect_examples(fashion, folder_with_a_bomb, "conv3", k=3, batch_size=4)
    assert result.entries == 11 and result.items_seen == 10
    assert [s.item for s in result.skipped] == ["05-bomb.png"]
    assert result.skipped[0].reason == "the file is 13000 × 13000 pixels (169 M), more than the 40 M allowed: make it smaller"
    summary = result.summary()
    assert summary["skipped_count"] == 1 and "13000 × 13000" in summary["skipped"][0]["reason"]


def test_the_cli_says_which_file_it_skipped_and_why(main_cli, folder_with_a_bomb, tmp_path) -> None:
    code, err = main_cli("examples", "--data", str(folder_with_a_bomb), "--model", "fashion-cnn", "--layers", "conv3",
                         "--k", "2", "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "skipped 1 unreadable file(s): 05-bomb.png (the file is 13000 × 13000 pixels (169 M)" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["skipped"] == [{"item": "05-bomb.png", "reason": "the file is 13000 × 13000 pixels (169 M), more than "
                                                                    "the 40 M allowed: make it smaller"}]
