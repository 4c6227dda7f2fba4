"""`FashionViT`: a small vision transformer for Fashion-MNIST (patch 4, a class token, four pre-norm blocks),
with trained weights and the checkpoints of its training in the package.

Every part is a named submodule, so layers are addressable by dotted names; token outputs are
[N, T, D] with T = 1 + 7·7 (the class token first, then the patches row by row). Inside each block's
attention, `attn.weights` shows the attention probabilities [N, heads, T, T] and `attn.heads` the
concatenated head outputs [N, T, heads·head_dim] before the output projection (head h is the
slice h·head_dim:(h+1)·head_dim), both to forward hooks.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from featurelens.data.fashion_mnist import FASHION_CLASSES
from featurelens.models.fashion_cnn import FASHION_MEAN, FASHION_STD
from featurelens.models.loaded import LoadedModel
from featurelens.models.registry import register_model
from featurelens.models.shipped import checkpoints_in, packaged, with_shipped_weights

IMAGE_SIZE = 28
PATCH = 4
WEIGHTS_FILE = "weights/fashion_vit.pt"
TRAINING_CHECKPOINTS = "weights/fashion_vit_training"  # init, steps 50 and 300, the ends of epochs 1 and 6
# Both come from scripts/train_fashion_vit.py (its docstring has the commands).


class Attention(nn.Module):
    """Multi-head self-attention written out (softmax(QKᵀ/√d)·V), so hooks see the weights and each head's output."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.weights = nn.Identity()  # attention probabilities [N, heads, T, T]
        self.heads = nn.Identity()  # concatenated head outputs [N, T, heads·head_dim]
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # each [N, h, T, hd]
        weights = self.weights(torch.softmax(q @ k.transpose(-2, -1) * self.head_dim**-0.5, dim=-1))
        heads = (weights @ v).transpose(1, 2).reshape(n, t, d)  # head h is channels h·hd:(h+1)·hd
        return self.proj(self.heads(heads))


class MLP(nn.Module):
    """Linear → GELU → Linear, each a named submodule (`fc1`, `act`, `fc2`)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """A pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)); tokens [N, T, D] in and out."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class FashionViT(nn.Module):
    """Patch embedding (4×4 patches: 28×28 → 7×7 = 49 tokens), a class token, a learned position embedding,
    pre-norm blocks, a final LayerNorm and a linear head on the class token.

    Input [B, 1, 28, 28] normalised with FASHION_MEAN/STD (28×28 only: the position embedding has 50 rows),
    output logits [B, 10]. `patch_embed` gives [B, D, 7, 7]; `blocks.N` and `norm` give tokens [B, 50, D].
    """

    def __init__(self, dim: int = 64, depth: int = 4, num_heads: int = 4, mlp_ratio: int = 2, num_classes: int = 10) -> None:
        super().__init__()
        grid = IMAGE_SIZE // PATCH
        self.patch_embed = nn.Conv2d(1, dim, PATCH, stride=PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + grid * grid, dim) * 0.02)
        self.blocks = nn.Sequential(*(Block(dim, num_heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"FashionViT takes {IMAGE_SIZE}×{IMAGE_SIZE} images, got {x.shape[-2]}×{x.shape[-1]}")
        patches = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, 49, D], row by row
        tokens = torch.cat([self.cls_token.expand(len(x), -1, -1), patches], dim=1) + self.pos_embed
        tokens = self.norm(self.blocks(tokens))
        return self.head(tokens[:, 0])


def build_fashion_vit(weights: bool = True, file: str = WEIGHTS_FILE) -> FashionViT:
    """A `FashionViT`, with the shipped trained weights (`file`, inside the package) loaded strictly unless `weights=False`."""
    return with_shipped_weights(FashionViT(), file) if weights else FashionViT().eval()


@register_model("fashion-vit")
def loaded_fashion_vit() -> LoadedModel:
    """The built-in spec `fashion-vit`: the trained `FashionViT`, its greyscale 28×28 input conventions
    (28×28 only) and the checkpoints of its training."""
    return LoadedModel(
        build_fashion_vit(), "fashion-vit", input_size=IMAGE_SIZE, in_channels=1, mean=FASHION_MEAN, std=FASHION_STD,
        class_names=list(FASHION_CLASSES), min_size=IMAGE_SIZE, dream_layer="blocks.2", data="fashion-mnist:test",
        training_checkpoints=packaged(TRAINING_CHECKPOINTS),
    )


def shipped_training_checkpoints() -> list[Path]:
    """The shipped checkpoints of fashion-vit's training, in training order (`stepNNNN.pt`: init first, the model last)."""
    return checkpoints_in(TRAINING_CHECKPOINTS)
