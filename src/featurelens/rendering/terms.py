"""Objective terms: what a render subtracts from its units' objective, per image, as small composable objects.

As in Lucid, a render maximizes the unit term minus a list of others: the image priors (`Regularizers`: L1, L2, total
variation, blur), Lucid's diversity across a unit's batch (`Diversity`) and any term a user writes. A term is any
object with `layers(objective)` (the layers it reads, captured with the units') and `__call__(images, activations,
objective)` returning one penalty per image ([B]; a negative penalty rewards). `RenderSettings.terms` holds the
user's, after the built-in ones:

    class Brighter:  # reward bright images
        def layers(self, objective): return ()
        def __call__(self, images, activations, objective): return -images.mean((1, 2, 3))

    fl.render("fashion-cnn", "conv3:5", terms=[Brighter()])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from featurelens.rendering.regularizers import gram_diversity
from featurelens.units import PerImageTargets


class ObjectiveTerm(Protocol):
    """A penalty per image subtracted from the render's objective."""

    def layers(self, objective: PerImageTargets) -> Sequence[str]:
        """Layers the term reads from `activations` (captured in the same forward as the units)."""
        ...

    def __call__(self, images: torch.Tensor, activations: Mapping[str, torch.Tensor], objective: PerImageTargets) -> torch.Tensor:
        """[B] penalties for the images [B, C, H, W] in [0, 1] as parameterized (before the random transforms)."""
        ...


@dataclass(frozen=True)
class Diversity:
    """Lucid's diversity: `weight` × the mean Gram similarity of an image to the others of its unit's batch, at the
    first layer the objective reads."""

    weight: float

    def layers(self, objective: PerImageTargets) -> Sequence[str]:
        return objective.targets[0].layers[:1]

    def __call__(self, images: torch.Tensor, activations: Mapping[str, torch.Tensor], objective: PerImageTargets) -> torch.Tensor:
        layer = objective.targets[0].layers[0]
        return self.weight * gram_diversity(activations[layer], [group for group, _ in objective.groups])
