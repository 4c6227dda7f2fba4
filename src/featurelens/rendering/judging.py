"""Judging images with other models: does a class visualization transfer, and how natural is an image?

Transfer (MACO, Fel et al. 2023): an image made to excite a class of one model should be recognised
by other models. Each judge sees every image resized to its own input size and gives the class's
softmax probability and rank (1 = its top class). The class is matched by name when both models
name their classes, by index otherwise.

Naturalness, for any image: the per-channel mean and spread of three of the judge's feature maps
(its first, middle and last block: texture, parts, objects), compared with those of the bundled
photos. `photo_distance` averages, over those maps, the image's distance to the photos' mean
statistics in units of the photos' own mean distance: about 1 for a photo, larger for images the
judge finds less photo-like. Judges run after the optimisation, in batches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from featurelens.capture import LOGIT, ActivationCapture, probe
from featurelens.errors import FeaturelensError
from featurelens.images import convert_channels, resize_square
from featurelens.models import LoadedModel
from featurelens.photos import photo_batch
from featurelens.units import UnitExpression

JUDGE_BATCH = 16


@dataclass(frozen=True)
class Judgement:
    """One judge's figures for one image. Class figures are None when the unit is no class or the judge lacks it."""

    judge: str
    class_label: str | None
    class_index: int | None
    probability: float | None
    rank: int | None
    photo_distance: float

    def summary(self) -> dict:
        return asdict(self)


def class_of(expression: UnitExpression) -> int | None:
    """The logit index a unit expression maximizes, when it is exactly one class logit."""
    if len(expression.terms) != 1:
        return None
    weight, unit = expression.terms[0]
    if weight <= 0 or unit.layer != LOGIT or unit.channel is None or unit.position is not None:
        return None
    return unit.channel


def judge_class(judge: LoadedModel, model: LoadedModel, index: int) -> int | None:
    """The judge's index of `model`'s class `index`: by name when both name their classes, else by index."""
    if judge.class_names and model.class_names:
        name = model.class_names[index]
        if name in judge.class_names:
            return judge.class_names.index(name)
        try:
            return judge.class_index(model.class_label(index))
        except FeaturelensError:
            return None
    classes = probe(judge).shapes().get(LOGIT, (0,))
    return index if classes and index < classes[0] else None


def judge_images(
    judges: Sequence[LoadedModel], model: LoadedModel, images: Sequence[np.ndarray], targets: Sequence[UnitExpression],
) -> list[dict[str, Judgement]]:
    """Every judge's figures for every image (uint8 [H, W, C], any sizes) made for `targets` of `model`: one {judge spec: Judgement} per image."""
    judged: list[dict[str, Judgement]] = [{} for _ in images]
    for judge in judges:
        for i, judgement in enumerate(_judge_all(judge, model, images, targets)):
            judged[i][judge.spec] = judgement
    return judged


@torch.no_grad()
def _judge_all(judge: LoadedModel, model: LoadedModel, images, targets) -> list[Judgement]:
    layers = statistics_layers(judge)
    with ActivationCapture(judge.module, [*layers, LOGIT]) as capture:
        photos = capture.run(judge.normalize(photo_batch(judge.input_size, judge.in_channels).to(judge.device)))
        reference = {layer: _statistics(photos[layer]) for layer in layers}
        centres = {layer: stats.mean(0) for layer, stats in reference.items()}
        spreads = {layer: (stats - centres[layer]).norm(dim=1).mean().clamp_min(1e-12) for layer, stats in reference.items()}
        found = []
        for start in range(0, len(images), JUDGE_BATCH):
            acts = capture.run(judge.normalize(_as_judge_input(judge, images[start:start + JUDGE_BATCH])))
            distances = torch.stack([(_statistics(acts[layer]) - centres[layer]).norm(dim=1) / spreads[layer] for layer in layers]).mean(0)
            probabilities = acts[LOGIT].float().softmax(1)
            for row, target in enumerate(targets[start:start + JUDGE_BATCH]):
                found.append(_judgement(judge, model, target, probabilities[row], float(distances[row])))
    return found


def _judgement(judge: LoadedModel, model: LoadedModel, target: UnitExpression, probabilities: torch.Tensor, distance: float) -> Judgement:
    source = class_of(target)
    index = judge_class(judge, model, source) if source is not None else None
    if index is None:
        return Judgement(judge.spec, None, None, None, None, distance)
    probability = probabilities[index]
    rank = int((probabilities > probability).sum()) + 1
    return Judgement(judge.spec, judge.class_label(index), index, float(probability), rank, distance)


def _as_judge_input(judge: LoadedModel, pictures: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 [H, W, C] pictures as one [B, C, S, S] batch at the judge's input size, in its channels."""
    resized = []
    for picture in pictures:
        tensor = torch.from_numpy(np.array(picture)).permute(2, 0, 1)[None].float() / 255  # a copy: read-only arrays welcome
        resized.append(resize_square(convert_channels(tensor, judge.in_channels), judge.input_size))
    return torch.cat(resized).to(judge.device)


def statistics_layers(judge: LoadedModel, count: int = 3) -> list[str]:
    """`count` feature maps spread from the judge's first block to its last (blocks: children of a ModuleList or
    Sequential; else its convolutions), whose statistics describe an image's texture, parts and objects."""
    maps = [info.name for info in probe(judge).layers if len(info.shape) == 3 and info.shape[1] * info.shape[2] > 1]
    modules = dict(judge.module.named_modules())
    blocks = [n for n in maps if isinstance(modules.get(n.rpartition(".")[0]), (nn.ModuleList, nn.Sequential))]
    if len(blocks) < count:
        blocks = [n for n in maps if isinstance(modules.get(n), nn.Conv2d)] or maps
    if not blocks:
        return [LOGIT]
    picks = np.linspace(0, len(blocks) - 1, min(count, len(blocks))).round().astype(int)
    return [blocks[i] for i in dict.fromkeys(picks.tolist())]


def _statistics(activation: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] → per-channel mean and standard deviation over space, [B, 2C]; vectors pass through."""
    if activation.dim() < 3:
        return activation.float().flatten(1)
    flat = activation.float().flatten(2)
    return torch.cat([flat.mean(2), flat.std(2)], 1)
