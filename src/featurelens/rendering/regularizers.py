"""Image priors added to the loss, each weighted by the user (0 turns it off)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Regularizers:
    """Weights of the image priors. All work on [B, C, H, W] images in [0, 1] and return [B] penalties."""

    l1: float = 0.0
    l2: float = 0.0
    tv: float = 0.0
    blur: float = 0.0

    def weighted(self) -> bool:
        """Whether any prior is weighted (a render with none skips the term)."""
        return any((self.l1, self.l2, self.tv, self.blur))

    def layers(self, objective: object) -> tuple[str, ...]:
        """An objective term that reads no layer (`rendering.terms`)."""
        return ()

    def __call__(self, images: torch.Tensor, activations: object, objective: object) -> torch.Tensor:
        """The penalty, as an objective term (`rendering.terms`)."""
        return self.penalty(images)

    def penalty(self, images: torch.Tensor) -> torch.Tensor:
        total = images.new_zeros(images.shape[0])
        centred = images - 0.5
        if self.l1:
            total = total + self.l1 * centred.abs().flatten(1).mean(1)
        if self.l2:
            total = total + self.l2 * centred.pow(2).flatten(1).mean(1)
        if self.tv:
            total = total + self.tv * total_variation(images)
        if self.blur:
            total = total + self.blur * (images - box_blur(images).detach()).pow(2).flatten(1).mean(1)
        return total


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels, per image."""
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().flatten(1).mean(1)
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().flatten(1).mean(1)
    return dx + dy


def box_blur(images: torch.Tensor) -> torch.Tensor:
    """3×3 mean filter per channel (Lucid's blur-each-step prior pulls the image towards this)."""
    channels = images.shape[1]
    kernel = images.new_full((channels, 1, 3, 3), 1 / 9)
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=channels)


def gram_diversity(activation: torch.Tensor, groups: list[slice]) -> torch.Tensor:
    """Lucid's diversity term: mean cosine similarity between the Gram matrices of images in a group.
    Returned per image ([B]); subtracting it from the objective pushes a group's images apart."""
    batch, channels = activation.shape[:2]
    flat = activation.reshape(batch, channels, -1)
    grams = F.normalize((flat @ flat.transpose(1, 2)).reshape(batch, -1), dim=1)
    similarity = activation.new_zeros(batch)
    for group in groups:
        g = grams[group]
        n = g.shape[0]
        if n < 2:
            continue
        pairwise = g @ g.T
        similarity[group] = (pairwise.sum(1) - pairwise.diagonal()) / (n - 1)
    return similarity
