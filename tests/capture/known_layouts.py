"""Models whose features are known, in every layout: a patch embedding whose feature k is the patch's match with
pattern k, so a test knows which input, which patch and which picture should raise feature k.

Inputs are greyscale 16×16 images: 4×4 patches on a 4×4 grid. `PATTERNS[k]` is a 4×4 pattern (zero mean, unit norm);
feature k of the token at grid cell (y, x) is the dot product of that patch with pattern k.
"""

from __future__ import annotations

import torch
from torch import nn

from featurelens.models import LoadedModel

PATCH, GRID, FEATURES = 4, 4, 6
SIDE = PATCH * GRID


def patterns() -> torch.Tensor:
    """[FEATURES, 4, 4]: stripes and checks, each of zero mean and unit norm, pairwise distinct."""
    y, x = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    raw = torch.stack([
        (y < 2).float(), (x < 2).float(), ((y + x) % 2 == 0).float(), (y % 2 == 0).float(), (x % 2 == 0).float(), ((y < 2) == (x < 2)).float(),
    ])
    raw = raw - raw.mean((1, 2), keepdim=True)
    return raw / raw.flatten(1).norm(dim=1).view(-1, 1, 1)


PATTERNS = patterns()


class PatchEmbedding(nn.Module):
    """[B, 1, 16, 16] → tokens [B, 16, FEATURES] (row-major grid), as a Linear on flattened patches."""

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Linear(PATCH * PATCH, FEATURES, bias=False)
        with torch.no_grad():
            self.project.weight.copy_(PATTERNS.flatten(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches = images.unfold(2, PATCH, PATCH).unfold(3, PATCH, PATCH)  # [B, 1, 4, 4, 4, 4]
        return self.project(patches.reshape(len(images), GRID * GRID, PATCH * PATCH))


class TokenModel(nn.Module):
    """Tokens with a class token in front: `tokens` [B, 1 + 16, FEATURES] (class token = mean of the patches' features),
    `head` pools the class token into FEATURES logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = PatchEmbedding()
        self.tokens = nn.Identity()
        self.head = nn.Linear(FEATURES, FEATURES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches = self.embed(images)
        tokens = self.tokens(torch.cat([patches.mean(1, keepdim=True), patches], 1))
        return self.head(tokens[:, 0])


class ChannelsLastModel(nn.Module):
    """The patch features as a channels-last grid `grid` [B, 4, 4, FEATURES] behind a LayerNorm-free identity."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = PatchEmbedding()
        self.grid = nn.Identity()
        self.head = nn.Linear(FEATURES, FEATURES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grid = self.grid(self.embed(images).reshape(len(images), GRID, GRID, FEATURES))
        return self.head(grid.mean((1, 2)))


def loaded(module: nn.Module, spec: str) -> LoadedModel:
    return LoadedModel(module, spec, input_size=SIDE, in_channels=1, class_names=[f"pattern {k}" for k in range(FEATURES)], min_size=SIDE)


def image_with(feature: int, cell: tuple[int, int], contrast: float = 1.0) -> torch.Tensor:
    """A grey [1, 16, 16] image in [0, 1] with pattern `feature` at grid `cell` (y, x), 0.5 elsewhere."""
    image = torch.full((1, SIDE, SIDE), 0.5)
    y, x = cell
    image[0, y * PATCH:(y + 1) * PATCH, x * PATCH:(x + 1) * PATCH] += 0.25 * contrast * PATTERNS[feature] / PATTERNS[feature].abs().max()
    return image


class TimeMajorModel(nn.Module):
    """Image columns as time: the 8 two-pixel strips of a 16×16 image are 8 steps; `steps` [B, 8, FEATURES] (time first),
    feature k of step t = the strip's match with `STRIPS[k]` (orthonormal rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Linear(SIDE * 2, FEATURES, bias=False)
        with torch.no_grad():
            self.project.weight.copy_(STRIPS)
        self.steps = nn.Identity()
        self.head = nn.Linear(FEATURES, FEATURES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        strips = images[:, 0].unfold(2, 2, 2).permute(0, 2, 1, 3).reshape(len(images), SIDE // 2, SIDE * 2)
        steps = self.steps(self.project(strips))
        return self.head(steps.mean(1))


STRIPS = torch.linalg.qr(torch.randn(SIDE * 2, FEATURES, generator=torch.Generator().manual_seed(0)))[0].T.contiguous()


def strip_image(feature: int, step: int) -> torch.Tensor:
    """A grey [1, 16, 16] image with strip pattern `feature` at time step `step` (columns 2·step, 2·step + 1)."""
    image = torch.full((1, SIDE, SIDE), 0.5)
    strip = STRIPS[feature].reshape(SIDE, 2)
    image[0, :, 2 * step:2 * step + 2] += 0.25 * strip / strip.abs().max()
    return image


def token_model() -> LoadedModel:
    return loaded(TokenModel(), "token-model")


def channels_last_model() -> LoadedModel:
    return loaded(ChannelsLastModel(), "channels-last-model")


def time_major_model() -> LoadedModel:
    return loaded(TimeMajorModel(), "time-major-model")


class AttentionModel(nn.Module):
    """The token model with one self-attention layer `attn` (2 heads, torch's `nn.MultiheadAttention`, seeded weights)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = PatchEmbedding()
        self.attn = nn.MultiheadAttention(FEATURES, 2, batch_first=True)
        self.head = nn.Linear(FEATURES, FEATURES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patches = self.embed(images)
        tokens = torch.cat([patches.mean(1, keepdim=True), patches], 1)
        mixed, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return self.head((tokens + mixed)[:, 0])


def attention_model() -> LoadedModel:
    return loaded(AttentionModel(), "attention-model")


class MixingModel(nn.Module):
    """Patch tokens (feature k = the patch's match with pattern k) in which every token mixes in 0.3 % of every other
    token, as attention mixes: `mixed` [B, 16, FEATURES] sees the whole input, though mostly its own patch."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = PatchEmbedding()
        self.register_buffer("mixing", torch.eye(GRID * GRID) * 0.997 + 0.003)
        self.mixed = nn.Identity()
        self.head = nn.Linear(FEATURES, FEATURES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        mixed = self.mixed(self.mixing @ self.embed(images))
        return self.head(mixed.mean(1))


def mixing_model() -> LoadedModel:
    return loaded(MixingModel(), "mixing-model")


class GeluModel(nn.Module):
    """Patch tokens through Linear → GELU → Linear (`out`): a transformer's MLP, no rectifier anywhere."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.embed = PatchEmbedding()
        self.up = nn.Linear(FEATURES, 2 * FEATURES)
        self.act = nn.GELU()
        self.out = nn.Linear(2 * FEATURES, FEATURES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.up(self.embed(images)))).mean(1)


def gelu_model() -> LoadedModel:
    return loaded(GeluModel(), "gelu-model")
