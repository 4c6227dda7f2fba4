"""`featurelens atlas` on the command line: a dry run writes nothing, a run reports what it built and the site's size,
a rerun builds nothing, mistakes are one line with the flag's name."""

from __future__ import annotations

import json

ARGS = ["atlas", "--model", "fashion-cnn", "--data", "fashion-mnist:test", "--limit", "100", "--layers", "conv3,logit", "--units", "2",
        "--steps", "4", "--diverse", "1", "--project", "none"]


def test_dry_run_run_and_rerun(main_cli, tmp_path, fashion_atlas) -> None:
    out = tmp_path / "atlas"
    code, err = main_cli(*ARGS, "--out", str(out), "--dry-run")
    assert code == 0 and not out.exists()
    code, err = main_cli(*ARGS, "--out", str(out))
    assert code == 0, err
    assert "2 layer(s) passed over the data" in err and "4 unit(s) visualized" in err and "MiB" in err
    record = json.loads((out / "logit" / "1.json").read_text())
    assert record["label"] == "Trouser" and record["examples"]["max"][0]["projection"] is None
    code, err = main_cli(*ARGS, "--out", str(out))
    assert code == 0 and "0 unit(s) visualized, 0 with examples (0 layer(s)" in err


def test_mistakes_are_one_line_naming_the_flag(main_cli, tmp_path, fashion_atlas) -> None:
    code, err = main_cli("atlas", "--units", "many", "--out", str(tmp_path / "a"), "--dry-run")
    assert code == 2 and "--units must be a positive number of channels per layer or 'all', got 'many'" in err
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--data", "fashion-mnist:test", "--out", str(fashion_atlas.folder), "--dry-run")
    assert code == 2 and "was made with --steps 8, not 256" in err and len(err.strip().splitlines()) == 1
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--layers", "conv2", "--project", "backwards", "--out", str(tmp_path / "b"), "--dry-run")
    assert code == 2 and "backwards" in err and len(err.strip().splitlines()) == 1
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--judge", "fashion-cnn-sed1", "--out", str(tmp_path / "c"))
    assert code == 2 and "unknown model spec 'fashion-cnn-sed1'" in err and not (tmp_path / "c").exists()  # before any work


def test_judges_figures_are_on_the_unit_pages(main_cli, tmp_path) -> None:
    """--judge: a second Fashion-MNIST model (another seed) judges each unit's max image; the page says so."""
    out = tmp_path / "judged"
    code, err = main_cli("atlas", "--model", "fashion-cnn", "--data", "fashion-mnist:test", "--limit", "50", "--project", "none", "--layers", "logit", "--units", "2", "--steps", "32",
                         "--diverse", "0", "--judge", "fashion-cnn-seed1", "--out", str(out))
    assert code == 0, err
    judged = json.loads((out / "logit" / "1.json").read_text())["render_figures"]["max"]["judged"]["fashion-cnn-seed1"]
    assert judged["class_label"] == "Trouser" and judged["rank"] >= 1 and 0 <= judged["probability"] <= 1
    assert "fashion-cnn-seed1: p(Trouser)" in (out / "logit" / "1.html").read_text()
