"""`featurelens music make|train`: the collection and the cold-start network from the command line — resumable,
deterministic for a seed, checked by --dry-run — and the trained file loads as the model spec music-cnn:FILE."""

from __future__ import annotations

import pyarrow.parquet as pq

from featurelens.models import load_model


def test_make_is_deterministic_and_carries_on(main_cli, tmp_path, small_collection):
    out = tmp_path / "coll"
    code, err = main_cli("music", "make", "--clips", "6", "--seed", "11", "--out", str(out), "--dry-run")
    assert code == 0 and not out.exists()
    code, err = main_cli("music", "make", "--clips", "6", "--seed", "11", "--out", str(out))
    assert code == 0, err
    assert "6 clips (6 made" in err
    code, err = main_cli("music", "make", "--clips", "8", "--seed", "11", "--out", str(out))
    assert code == 0 and "8 clips (2 made" in err and "6 already there" in err
    # The same seed gives the same clips, byte for byte, as the session's 280-clip collection (also seed 11).
    for path in pq.read_table(out / "labels.parquet")["path"].to_pylist():
        assert (out / path).read_bytes() == (small_collection.folder / path).read_bytes()
    code, err = main_cli("music", "make", "--clips", "8", "--seed", "12", "--out", str(out), "--dry-run")
    assert code == 2 and "made with" in err and "use another folder or the same settings" in err


def test_train_writes_a_model_spec(main_cli, tmp_path, small_collection):
    weights = tmp_path / "mine.pt"
    code, err = main_cli("music", "train", "--collection", str(small_collection.folder), "--epochs", "1", "--listeners", "300",
                         "--out", str(weights))
    assert code == 0, err
    assert "1 epochs on 280 clips" in err and "cold-start CNN (predicted factors)" in err
    model = load_model(f"music-cnn:{weights}")
    assert model.modality.name == "audio" and model.input_size == 188
    code, err = main_cli("examples", "--model", f"music-cnn:{weights}", "--data", str(small_collection.folder),
                         "--layers", "conv3", "--out", str(tmp_path / "ex"), "--dry-run")
    assert code == 0, err
    code, err = main_cli("music", "train", "--collection", str(tmp_path), "--dry-run")
    assert code == 2 and "no music collection" in err
