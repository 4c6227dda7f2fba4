"""Tiled DeepDream gradients: the tiles' gradients add up to the untiled gradient, on real models."""

from __future__ import annotations

import pytest
import torch

from featurelens.capture import capture_activations, list_layers
from featurelens.deepdream import DreamObjective, TiledGradient
from featurelens.geometry import tile_geometry as layer_geometry
from featurelens.errors import FeaturelensError
from featurelens.photos import photo_batch
from featurelens.units import expression_value, parse_units, resolve_expression


def objective_for(model, text: str) -> DreamObjective:
    probe = torch.full((1, model.in_channels, model.input_size, model.input_size), 0.5)
    layers = list_layers(model.module, model.normalize(probe))
    expression = resolve_expression(parse_units(text), model, layers)
    return DreamObjective(expression, {info.name for info in layers if len(info.shape) == 3})


def untiled_gradient(model, text: str, image: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Reference: one forward/backward of the whole image through the unit expression."""
    x = image.clone().requires_grad_(True)
    expression = parse_units(text)
    value = expression_value(expression, capture_activations(model.module, model.normalize(x), expression.layers)).sum()
    (grad,) = torch.autograd.grad(value, x)
    return float(value.detach()), grad


@pytest.mark.parametrize(
    "text, size, tile",
    [
        ("_blocks.5", (224, 224), 160),  # whole layer, image a multiple of the stride
        ("_blocks.5:3+0.5*_blocks.2", (213, 189), 176),  # two layers; odd sizes exercise SAME padding
        ("_blocks.5:7@center", (224, 208), 160),  # one neuron: only the tile owning it contributes
    ],
)
def test_tiled_gradient_equals_untiled_everywhere_on_a_photo(lite0, text, size, tile) -> None:
    photo = photo_batch(max(size), 3)[:1, :, : size[0], : size[1]]
    tiled = TiledGradient(lite0, objective_for(lite0, text), tile)
    assert len(tiled.spans(size[0])) * len(tiled.spans(size[1])) >= 4  # really tiled
    reference_value, reference = untiled_gradient(lite0, text, photo)
    value, gradient = tiled(photo, torch.Generator().manual_seed(3))  # random grid offset
    assert value == pytest.approx(reference_value, rel=1e-4)
    scale = reference.abs().max()
    assert scale > 0
    # Equal away from tile borders, and (because each tile owns whole receptive fields) at them too.
    assert (gradient - reference).abs().max() <= 1e-4 * scale


def test_fashion_cnn_tiles_equal_untiled_with_max_pooling(fashion) -> None:
    image = torch.rand(1, 1, 101, 90, generator=torch.Generator().manual_seed(0))
    tiled = TiledGradient(fashion, objective_for(fashion, "pool3:5+relu2"), 40)
    _, reference = untiled_gradient(fashion, "pool3:5+relu2", image)
    _, gradient = tiled(image, torch.Generator().manual_seed(1))
    assert (gradient - reference).abs().max() <= 1e-4 * reference.abs().max()


def test_spans_partition_the_image_and_start_on_the_stride(lite0) -> None:
    tiled = TiledGradient(lite0, objective_for(lite0, "_blocks.8"), 512)
    assert (tiled.stride, tiled.margin) == (16, 112)
    for length in (600, 1000, 2047):
        for offset in (0, 16, 160):
            spans = tiled.spans(length, offset)
            covered = [p for span in spans for p in range(*span.core)]
            assert covered == list(range(length))  # every pixel in exactly one core
            for span in spans:
                assert span.crop[0] % 16 == 0 and span.crop[1] - span.crop[0] <= 512
                assert span.crop[0] <= max(0, span.core[0] - 112) and span.crop[1] >= min(length, span.core[1] + 112)
                assert (span.crop[1] - span.crop[0]) % 16 == length % 16  # SAME padding lines up with the full image


def test_receptive_field_walk_matches_the_architecture(lite0, fashion) -> None:
    assert layer_geometry(lite0, "_blocks.8").receptive_field == 211  # stem 3, then 3,3,3,5,5,3,3,3,5 kernels
    geometry = layer_geometry(fashion, "pool2")
    assert (geometry.stride, geometry.receptive_field) == (4, 10)


def test_tile_below_the_model_minimum_is_a_one_line_error(lite0) -> None:
    with pytest.raises(FeaturelensError, match="below the minimum input size 32"):
        TiledGradient(lite0, objective_for(lite0, "_blocks.2"), 16)


def test_tile_without_room_inside_its_margin_is_a_one_line_error(lite0) -> None:
    tiled = TiledGradient(lite0, objective_for(lite0, "_blocks.8"), 200)
    tiled.check(200, 200)  # fits in one tile: fine
    with pytest.raises(FeaturelensError, match="use tile 256 or more"):
        tiled.check(300, 300)
