"""Feature evolution on fashion-cnn's shipped training checkpoints: units sharpen and settle as the network learns."""

import json
import shutil
import statistics

import pytest
import torch

from featurelens import evolve
from featurelens.data import fashion_mnist
from featurelens.errors import FeaturelensError
from featurelens.evolution import checkpoint_files, read_checkpoint

needs_data = pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")
UNITS = ["conv3:0..7", "logit:0..9"]  # eight mid-level channels and every class
CONV = [f"conv3:{c}" for c in range(8)]
CLASSES = [f"logit:{c}" for c in range(10)]


@pytest.fixture(scope="module")
def evolution(fashion):
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    return evolve(fashion, "fashion-mnist:test", UNITS, steps=64, limit=2000)


def test_the_shipped_checkpoints_run_from_initialisation_to_the_shipped_weights(fashion):
    files = checkpoint_files(None, fashion)
    labels = [read_checkpoint(f, fashion).label for f in files]
    assert labels == ["init", "step 10", "step 40", "step 150", "step 300", "epoch 1", "epoch 2"]
    final = torch.load(files[-1], weights_only=True)["state_dict"]
    shipped = fashion.module.state_dict()
    assert all(torch.equal(final[name], shipped[name].cpu().contiguous()) for name in shipped)  # same recipe, same floats
    accuracies = [read_checkpoint(f, fashion).facts["test_accuracy"] for f in files]
    assert accuracies[0] < 0.2 and accuracies[-1] > 0.88


def mean_over(evolution, units, figure, checkpoints):
    return [statistics.mean(getattr(evolution.unit(u).cells[i], figure) for u in units) for i in checkpoints]


@needs_data
def test_units_respond_more_to_their_own_render_as_training_goes_on(evolution):
    assert len(evolution.checkpoints) == 7 and not evolution.interrupted
    for units in (CONV, CLASSES):
        activation = mean_over(evolution, units, "activation", range(7))
        assert activation[-1] > 2 * activation[0] and activation[-1] > activation[1], activation


@needs_data
def test_top9_sets_settle_as_training_goes_on(evolution):
    for units in (CONV, CLASSES):
        final = mean_over(evolution, units, "overlap_final", range(7))  # agreement with the trained network's top 9
        assert final[0] < 0.2 and final[-2] > 3 * final[0] and final[-1] == 1.0, final
        assert all(later >= earlier - 0.05 for earlier, later in zip(final, final[1:])), final
    # Between consecutive checkpoints the classes' top 9 agree more and more. (A channel's agreement first falls:
    # the first 10 steps barely move the weights, then the network learns fastest; over all 128 channels of conv3
    # it runs 0.55, 0.37, 0.37, 0.27, 0.50, 0.55 — too uneven over 8 channels to test.)
    classes = mean_over(evolution, CLASSES, "overlap_previous", range(1, 7))
    assert all(later > earlier for earlier, later in zip(classes, classes[1:])), classes
    assert all(evolution.unit(u).cells[0].overlap_previous is None for u in CONV + CLASSES)


@needs_data
def test_every_checkpoint_starts_from_the_same_noise(fashion):
    init = checkpoint_files(None, fashion)[0]
    same, other = (evolve(fashion, "photos", "conv3:0", checkpoints=[init, init], steps=8, seed=seed).unit("conv3:0").cells for seed in (0, 1))
    assert (same[0].image == same[1].image).all()  # the same weights and the same seed: the same picture
    assert not (same[0].image == other[0].image).all()


@needs_data
def test_the_timeline_page_loads_with_every_image(evolution, tmp_path, chromium):
    index = evolution.save(tmp_path / "evolution")
    summary = json.loads((tmp_path / "evolution" / "evolution.json").read_text())
    assert [c["label"] for c in summary["checkpoints"]][0] == "init" and len(summary["units"]) == 18
    page = chromium.new_page()
    page.goto(index.as_uri())
    page.wait_for_load_state("load")
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
    rows = page.eval_on_selector_all("tr", "rows => rows.length")
    page.close()
    assert len(widths) == 18 * 7 * 2  # a render and an example grid per unit and checkpoint
    assert all(w > 0 for w in widths)
    assert rows == 1 + 18


def test_checkpoints_are_checked_before_any_work(fashion, tmp_path):
    files = checkpoint_files(None, fashion)
    with pytest.raises(FeaturelensError, match="a timeline needs at least two checkpoints"):
        checkpoint_files([files[0]], fashion)
    shutil.copy(fashion.inverters["pool2"], tmp_path / "other.pt")
    with pytest.raises(FeaturelensError, match="does not fit model 'fashion-cnn'"):
        read_checkpoint(tmp_path / "other.pt", fashion)
    folder = tmp_path / "run"
    folder.mkdir()
    for name, source in (("step10.pt", files[1]), ("step2.pt", files[0]), ("step150.pt", files[3])):
        shutil.copy(source, folder / name)
    assert [p.name for p in checkpoint_files(folder, fashion)] == ["step2.pt", "step10.pt", "step150.pt"]  # by number, not text


def test_the_command_line_dry_run_and_a_run(main_cli, tmp_path, fashion):
    code, err = main_cli("evolve", "--model", "fashion-cnn", "--data", "photos", "conv2:1", "--dry-run")
    assert code == 0, err
    files = checkpoint_files(None, fashion)
    code, err = main_cli("evolve", "--model", "fashion-cnn", "--data", "photos", "conv2:1", "logit:Trouser", "--steps", "4",
                         "--checkpoints", f"{files[0]},{files[-1]}", "--out", str(tmp_path))
    assert code == 0, err
    summary = json.loads((tmp_path / "evolution.json").read_text())
    assert [u["unit"] for u in summary["units"]] == ["conv2:1", "logit:1"]
    assert all(len(u["cells"]) == 2 and u["cells"][0]["png"] for u in summary["units"])
    code, err = main_cli("evolve", "--model", "efficientnet-lite0", "--data", "photos", "_blocks.2:0", "--dry-run")
    assert code == 2 and "ships no training checkpoints: give --checkpoints" in err
