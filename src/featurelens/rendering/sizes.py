"""`size="auto"`: each unit's render size, chosen from what the unit sees.

A unit that sees the whole input (a class logit, any layer without a spatial map, or a layer whose
receptive field spans the model's input size) is judged by the network on whole images at the
scale it was trained at: the network sees its images at the model's input size. They are
parameterized at 128 px and resampled to that size, which other models recognise better than a
parameterization at the full size, for the same cost per step (`benchmarks/render.py --transfer`,
RESULTS.md). Smaller receptive fields render at 128 px (or the input size, when smaller), about a
third of the cost per step at 224.

A model that refuses other sizes for the layers a render needs (a ViT) is fed exactly the chosen size:
its transforms resample back to it (`SizeChoice.fixed`), found by a dry run at the transforms' size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from featurelens.capture import probe
from featurelens.errors import bad_parameter
from featurelens.geometry import receptive_fields
from featurelens.geometry.receptive_field import analytic_fields
from featurelens.models import LoadedModel
from featurelens.models.input_sizes import refusal
from featurelens.rendering.transforms import RobustnessTransform
from featurelens.units import UnitExpression

AUTO = "auto"
SMALL_SIZE = 128  # Lucid's size for channel visualizations of ImageNet models


@dataclass(frozen=True)
class SizeChoice:
    """The side the network sees a unit's image at, the side its parameterization has, and why (render.json)."""

    size: int
    reason: str
    param_size: int = 0  # 0: the same as `size`
    fixed: bool = False  # the model takes this size only: transforms resample back to it

    @property
    def param_side(self) -> int:
        return self.param_size or self.size


def size_setting(text: str) -> int | str:
    """A size as written on the command line: "auto" or a number of pixels (other text is left for `check_size` to refuse)."""
    text = text.strip().lower()
    return int(text) if text.isdigit() else text


def check_size(size: int | str, model: LoadedModel) -> None:
    """`size` is "auto" or a whole number of pixels no smaller than the model's minimum."""
    if size == AUTO:
        return
    if isinstance(size, bool) or not isinstance(size, int):
        raise bad_parameter("size", f"must be a number of pixels or 'auto', got {size!r}")
    if size < model.min_size:
        raise bad_parameter("size", f"{size} is below the minimum input size {model.min_size} of model {model.spec!r}")


def choose_sizes(model: LoadedModel, expressions: list[UnitExpression], size: int | str) -> list[SizeChoice]:
    """One `SizeChoice` per expression: the given size, or the automatic one."""
    if size != AUTO:
        return [SizeChoice(int(size), "given")] * len(expressions)
    extents = _layer_extents(model, list(dict.fromkeys(layer for e in expressions for layer in e.layers)))
    return [_auto_choice(model, max(extents[layer] for layer in e.layers)) for e in expressions]


def fix_sizes(model: LoadedModel, choices: list[SizeChoice], layers: list[str], transforms: RobustnessTransform | None) -> list[SizeChoice]:
    """`choices`, marked `fixed` where the model cannot run `layers` on the transforms' larger images (one dry run
    per size); measuring robustness uses the standard transforms even when optimisation runs without them."""
    marked = {}
    for size in {c.size for c in choices}:
        transform = (transforms or RobustnessTransform()).for_size(size)
        marked[size] = transform.output_size(size) != size and refusal(model, transform.output_size(size), layers) is not None
    return [replace(c, fixed=True, reason=f"{c.reason}; the model takes {c.size} px only, so transforms resample back to it")
            if marked[c.size] else c for c in choices]


def _auto_choice(model: LoadedModel, extent: int | None) -> SizeChoice:
    full = model.input_size
    param = min(SMALL_SIZE, full)
    resampled = f", parameterized at {param} px and resampled" if param < full else ""
    if extent is None:
        return SizeChoice(full, f"whole-image unit: seen at the model's input size {full} px{resampled}", param)
    if extent >= full:
        return SizeChoice(full, f"receptive field {extent} px spans the {full} px input: seen at that size{resampled}", param)
    if full <= SMALL_SIZE:
        return SizeChoice(full, f"receptive field {extent} px is smaller than the {full} px input, which is small already: {full} px")
    return SizeChoice(SMALL_SIZE, f"receptive field {extent} px is smaller than the {full} px input: {SMALL_SIZE} px")


def _layer_extents(model: LoadedModel, layers: list[str]) -> dict[str, int | None]:
    """Each layer's receptive-field side at the model's input size (None: units without a map see everything)."""
    shapes = probe(model).shapes()
    spatial = [layer for layer in layers if len(shapes.get(layer, ())) == 3]
    extents: dict[str, int | None] = {layer: None for layer in layers}
    walked = analytic_fields(model, spatial, (model.input_size, model.input_size))  # cheap; exact for plain chains
    unwalked = [layer for layer in spatial if walked[layer] is None]
    measured = receptive_fields(model, unwalked, model.input_size) if unwalked else {}
    for layer in spatial:
        field = walked[layer] or measured[layer]
        extents[layer] = None if field.method == "global" else max(field.size)
    return extents
