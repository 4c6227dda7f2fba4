"""Bad input to `featurelens dictionary` is one line on stderr and exit 2; a good run prints its figures."""

from __future__ import annotations

import pytest

from featurelens.dictionary.file import load_dictionary


@pytest.mark.parametrize("args, message", [
    (["--layer", "conv33"], "unknown layer 'conv33'; closest: conv3"),
    (["--layer", "conv3", "--method", "sparse"], "unknown --method 'sparse': use topk, batchtopk, archetypal"),
    (["--layer", "conv3", "--features", "4", "--k", "8"], "--k (8) is more than the features (4)"),
    (["--layer", "conv3", "--steps", "0"], "--steps must be positive"),
    (["--layer", "conv3", "--name", "my dict"], "dictionary name 'my dict' cannot stand in an address"),
    (["--layer", "conv3", "--data", "missing-folder"], "data source 'missing-folder' not found"),
    (["--layer", "conv3", "--closed-form"], "--closed-form needs --anchored and --method topk"),
])
def test_bad_input_is_one_line_and_exit_code_2(main_cli, tmp_path, args, message) -> None:
    base = ["dictionary", "-m", "fashion-cnn", "--data", "fashion-mnist:test", "--out", str(tmp_path / "d.pt")]
    code, err = main_cli(*base, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_the_command_writes_the_file_and_prints_the_figures(main_cli, one_thread, tmp_path) -> None:
    out = tmp_path / "conv3_dict.pt"
    code, err = main_cli("dictionary", "-m", "fashion-cnn", "-l", "conv3", "-d", "fashion-mnist:test", "--limit", "400", "--steps", "20",
                         "--features", "256", "--batch-rows", "1024", "--eval-limit", "200", "--out", str(out))
    assert code == 0, err
    printed = main_cli.out
    assert "variance explained" in printed and "L0" in printed and "dead" in printed and "with the layer reconstructed" in printed
    assert "median top-9 purity" in printed
    dictionary = load_dictionary(out)
    assert dictionary.address == "conv3/dict" and dictionary.features == 256 and 0 < dictionary.metrics["fve"] <= 1


def test_the_closed_form_from_the_command_line_leaves_no_feature_dead(main_cli, one_thread, tmp_path) -> None:
    out = tmp_path / "closed.pt"
    code, err = main_cli("dictionary", "-m", "fashion-cnn", "-l", "conv3", "-d", "fashion-mnist:test", "--limit", "400", "--steps", "8",
                         "--features", "256", "--k", "32", "--batch-rows", "1024", "--eval-limit", "200", "--anchored", "--closed-form",
                         "--out", str(out))
    assert code == 0, err
    dictionary = load_dictionary(out)
    assert dictionary.settings["closed_form"] and dictionary.metrics["dead"] == 0.0 and dictionary.metrics["fve"] > 0.5
