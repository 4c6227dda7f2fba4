"""A layer's layout: which axis holds its features, which axes are positions, and which tokens are extra.

Every technique reads a layer in one canonical form, `[N, features, *positions]`: a conv map as it is,
a channels-last map `[N, H, W, C]` permuted, a token sequence `[N, T, D]` split into its extra tokens
(class, register or distillation tokens, at the front) and its patch tokens laid out on their grid
`[N, D, h, w]`, a time-major output `[N, T, C]` transposed to `[N, C, T]`. So `L:c` is feature c averaged
over positions (patch tokens only), `L:c@y,x` the token or cell at grid position (y, x), and `L:c@cls` a
class token, whatever the layer's own layout.

    kind            raw            canonical       positions
    map             [N, C, *P]     [N, C, *P]      the map's (H, W) or (T,)
    channels-last   [N, H, W, C]   [N, C, H, W]    (H, W)
    tokens          [N, k+h·w, D]  [N, D, h, w]    the patch grid (h, w); k extra tokens kept aside
    time-major      [N, T, C]      [N, C, T]       (T,)
    vector          [N, C]         [N, C]          none
    attention       [N, H, T, T]   [N, H, h, w]    the patch grid: head h's attention from the class token to each patch
                                                   (inferred for a softmax/dropout/identity output over a class token
                                                   and a patch grid; set it where a model's weights come out otherwise)

Layouts are inferred (`infer_layout`) from the output's shape, the module that produced it, the feature
sizes the model's modules declare and the input's aspect, and can be set where inference cannot tell:
a `featurelens_layouts = {"layer": "tokens"}` attribute on the model, or `--layout layer=tokens`.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from featurelens.capture.attention import is_attention
from featurelens.capture.per_module import remembered
from featurelens.errors import FeaturelensError

MAP, CHANNELS_LAST, TOKENS, TIME_MAJOR, VECTOR = "map", "channels-last", "tokens", "time-major", "vector"
ATTENTION = "attention"  # attention probabilities [N, heads, T, T]: read as where the class token attends
KINDS = (MAP, CHANNELS_LAST, TOKENS, TIME_MAJOR, VECTOR, ATTENTION)
OVERRIDES = "featurelens_layouts"  # model attribute: {layer: kind}, where inference cannot tell
EMITS_CANONICAL = "featurelens_emits_canonical"  # module attribute: its output is already [N, features, *positions]
# Extra tokens in front of the patches: none, class, class + distillation (DeiT), registers with or without a class
# token (4 or 8: DINOv2, timm's `reg` ViTs). A grid has at least 3×3 cells, so a short sequence is not taken for one.
EXTRA_TOKEN_COUNTS = (0, 1, 2, 4, 5, 8, 9)
MIN_GRID_CELLS = 9

# What attention probabilities come out of, when a model lets hooks see them (a softmax, its dropout, an identity).
_PROBABILITY_MODULES = (nn.Softmax, nn.Dropout, nn.Identity)
_FEATURE_LAST_MODULES = (nn.Linear, nn.LayerNorm, nn.MultiheadAttention)
_CHANNEL_FIRST_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.modules.batchnorm._BatchNorm, nn.GroupNorm,
                          nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)


@dataclass(frozen=True)
class Layout:
    """How one layer's raw output `[N, …]` maps to `[N, features, *positions]` (see the module docstring)."""

    kind: str
    features: int
    positions: tuple[int, ...] = ()
    extra_tokens: int = 0

    @property
    def canonical_shape(self) -> tuple[int, ...]:
        """The canonical shape without the batch: (features, *positions)."""
        return (self.features, *self.positions)

    @property
    def invertible(self) -> bool:
        """Whether `raw` rebuilds the layer's output from its canonical form (not an attention layer's class-token view)."""
        return self.kind != ATTENTION

    @property
    def raw_shape(self) -> tuple[int, ...]:
        """The shape without the batch as the layer returns it."""
        if self.kind in (MAP, VECTOR):
            return self.canonical_shape
        if self.kind in (CHANNELS_LAST, TIME_MAJOR):
            return (*self.positions, self.features)
        tokens = self.extra_tokens + math.prod(self.positions)
        return (self.features, tokens, tokens) if self.kind == ATTENTION else (tokens, self.features)

    def describe(self) -> str:
        """Short text for `featurelens layers`: `tokens 1+7×7`, `channels-last 7×7`, `map 14×14`, `vector`."""
        grid = "×".join(map(str, self.positions))
        if self.kind == TOKENS:
            return f"tokens {self.extra_tokens}+{grid}" if self.extra_tokens else f"tokens {grid}"
        if self.kind == ATTENTION:
            return f"class-token attention {grid}"
        return f"{self.kind} {grid}".strip()

    def canonical(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(positions `[N, features, *positions]`, extra tokens `[N, features, k]` or None) of a raw output."""
        if self.kind in (MAP, VECTOR):
            return raw, None
        if self.kind == CHANNELS_LAST:
            return raw.movedim(-1, 1), None
        if self.kind == TIME_MAJOR:
            return raw.transpose(1, 2), None
        if self.kind == ATTENTION:  # the class token's row, over the patch columns
            return raw[:, :, 0, self.extra_tokens:].reshape(raw.shape[0], self.features, *self.positions), None
        extras = raw[:, : self.extra_tokens].transpose(1, 2) if self.extra_tokens else None
        patches = raw[:, self.extra_tokens :].transpose(1, 2)
        return patches.reshape(raw.shape[0], self.features, *self.positions), extras

    def raw(self, positions: torch.Tensor, extras: torch.Tensor | None = None) -> torch.Tensor:
        """The inverse of `canonical`: the layer's own layout from canonical positions (and extra tokens, zeros if None)."""
        if self.kind in (MAP, VECTOR):
            return positions
        if self.kind == CHANNELS_LAST:
            return positions.movedim(1, -1)
        if self.kind == TIME_MAJOR:
            return positions.transpose(1, 2)
        if self.kind == ATTENTION:
            raise FeaturelensError("an attention layer's class-token view cannot be turned back into its probabilities")
        tokens = positions.flatten(2).transpose(1, 2)
        if not self.extra_tokens:
            return tokens
        if extras is None:
            extras = positions.new_zeros(positions.shape[0], self.features, self.extra_tokens)
        return torch.cat([extras.transpose(1, 2), tokens], 1)


@dataclass(frozen=True)
class SizeHints:
    """Feature sizes a model's modules declare: channel-first (convs, batch norms) and feature-last (linears, layer norms)."""

    channel_first: frozenset[int]
    feature_last: frozenset[int]


_HINTS: "weakref.WeakKeyDictionary[nn.Module, SizeHints]" = weakref.WeakKeyDictionary()


def size_hints(module: nn.Module) -> SizeHints:
    """The sizes of `module`'s layers, remembered per module."""
    return remembered(_HINTS, module, lambda: _sizes_of(module))


def _sizes_of(module: nn.Module) -> SizeHints:
    first, last = set(), set()
    for sub in module.modules():
        if isinstance(sub, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            first.add(sub.out_channels)
        elif isinstance(sub, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
            first.add(getattr(sub, "num_features", getattr(sub, "num_channels", 0)))
        elif isinstance(sub, nn.Linear):
            last.add(sub.out_features)
        elif isinstance(sub, nn.LayerNorm):
            last.add(sub.normalized_shape[-1])
        elif isinstance(sub, nn.MultiheadAttention):
            last.add(sub.embed_dim)
    return SizeHints(frozenset(first), frozenset(last))


def parse_kind(text: str, where: str) -> str:
    """A layout kind from user text (`tokens`, `channels-last`, …), or a one-line error listing the kinds."""
    kind = text.strip().lower().replace("_", "-")
    if kind not in KINDS:
        raise FeaturelensError(f"unknown layout {text!r} for {where}: choose one of {', '.join(KINDS)}")
    return kind


def infer_layout(
    shape: tuple[int, ...], producer: nn.Module | None, hints: SizeHints, input_shape: tuple[int, ...], kind: str | None = None
) -> Layout:
    """The layout of an output of `shape` (without the batch), made by `producer`, for inputs of `input_shape`
    (without the batch: [C, H, W] images, [bands, frames] spectrograms). `kind` forces the layout's kind."""
    forced = kind is not None
    looks_like_probabilities = isinstance(producer, _PROBABILITY_MODULES) and (not shape or shape[0] not in hints.channel_first)
    attention = _attention_grid(shape, input_shape) if kind == ATTENTION or (kind is None and looks_like_probabilities) else None
    if attention is not None:
        extras, rows, cols = attention
        return Layout(ATTENTION, shape[0], (rows, cols), extras)
    if kind == ATTENTION:
        raise FeaturelensError(f"an attention layout needs [N, heads, T, T] probabilities over a class token and a patch grid, not {_shown(shape)}")
    kind = kind or _guess_kind(shape, producer, hints)
    if kind == VECTOR or len(shape) <= 1:
        return Layout(VECTOR, shape[0] if shape else 1)
    if kind == MAP:
        return Layout(MAP, shape[0], tuple(shape[1:]))
    if kind == CHANNELS_LAST:
        if len(shape) < 3:
            raise FeaturelensError(f"a channels-last layout needs [N, H, W, C] outputs, not {_shown(shape)}")
        return Layout(CHANNELS_LAST, shape[-1], tuple(shape[:-1]))
    if len(shape) != 2:
        raise FeaturelensError(f"a {kind} layout needs [N, T, D] outputs, not {_shown(shape)}")
    length, features = shape
    if kind == TIME_MAJOR:
        return Layout(TIME_MAJOR, features, (length,))
    grid = token_grid(length, input_shape)
    if grid is None:
        if kind == TOKENS and forced and len(input_shape) == 3:
            raise FeaturelensError(f"{length} tokens do not fill a grid with the input's aspect ({_shown(input_shape)}) after "
                                   f"{', '.join(map(str, EXTRA_TOKEN_COUNTS))} extra tokens: set the layer's layout to time-major")
        return Layout(TIME_MAJOR, features, (length,))  # a sequence with no grid: a time line of tokens
    extras, rows, cols = grid
    return Layout(TOKENS, features, (rows, cols), extras)


def _guess_kind(shape: tuple[int, ...], producer: nn.Module | None, hints: SizeHints) -> str:
    if len(shape) <= 1:
        return VECTOR
    if getattr(producer, EMITS_CANONICAL, False):  # e.g. a dictionary's features
        return MAP
    feature_last = shape[-1] in hints.feature_last and shape[0] not in hints.channel_first
    feature_last_module = isinstance(producer, _FEATURE_LAST_MODULES) or is_attention(producer)
    if feature_last_module or (not isinstance(producer, _CHANNEL_FIRST_MODULES) and feature_last):
        return CHANNELS_LAST if len(shape) == 3 else TOKENS if len(shape) == 2 else MAP
    return MAP


def _attention_grid(shape: tuple[int, ...], input_shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(extra tokens, rows, cols) when `shape` is attention probabilities [heads, T, T] over extra tokens and a grid."""
    if len(shape) != 3 or shape[1] != shape[2]:
        return None
    grid = token_grid(shape[1], input_shape)
    return grid if grid is not None and grid[0] >= 1 else None


def token_grid(length: int, input_shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(extra tokens, rows, cols) when `length` tokens are a few extra tokens then a grid with the image's aspect; else None."""
    if len(input_shape) != 3:  # not an image: no grid
        return None
    height, width = input_shape[-2:]
    for extras in EXTRA_TOKEN_COUNTS:
        cells = length - extras
        if cells < MIN_GRID_CELLS:
            break
        rows = round(math.sqrt(cells * height / width))
        if rows and cells % rows == 0 and rows * width == (cells // rows) * height:
            return extras, rows, cells // rows
    return None


def extra_tokens_key(layer: str) -> str:
    """Where captured activations keep `layer`'s extra tokens (class, registers) `[N, D, k]`, if it has any."""
    return f"{layer}@tokens"


def layout_overrides(module: nn.Module) -> Mapping[str, str]:
    """The layouts a model sets for its layers (`featurelens_layouts`), kinds checked."""
    given = getattr(module, OVERRIDES, None) or {}
    if not isinstance(given, Mapping):
        raise FeaturelensError(f"the model's {OVERRIDES} must be a dict {{layer: kind}}, not {type(given).__name__}")
    return {layer: parse_kind(kind, f"layer {layer!r}") for layer, kind in given.items()}


def set_layout_overrides(module: nn.Module, texts: list[str]) -> None:
    """Apply `--layout LAYER=KIND` options to a model (kept in its `featurelens_layouts`)."""
    merged = dict(layout_overrides(module))
    for text in texts:
        layer, sep, kind = text.partition("=")
        if not sep or not layer.strip():
            raise FeaturelensError(f"bad --layout {text!r}: give LAYER=KIND, e.g. blocks.3=tokens")
        merged[layer.strip()] = parse_kind(kind, f"layer {layer.strip()!r}")
    setattr(module, OVERRIDES, merged)


def layer_layout(root: nn.Module, layer: str, producer: nn.Module | None, shape: tuple[int, ...], input_shape: tuple[int, ...]) -> Layout:
    """The layout of `layer` of `root`: the model's override if set, else inferred."""
    return infer_layout(shape, producer, size_hints(root), input_shape, layout_overrides(root).get(layer))


def _shown(shape: tuple[int, ...]) -> str:
    return "[N, " + ", ".join(map(str, shape)) + "]"
