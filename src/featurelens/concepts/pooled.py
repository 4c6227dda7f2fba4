"""Each input's units pooled over positions: the scores `find` ranks units by and fits the concept's probe on.

One forward pass per batch (stopping at the deepest layer) gives, per layer, every channel's max and mean over the
layer's positions (`[N, C]` each; a vector layer's value is both). Sources with few images can be widened with random
crops (`crops` per image, each 50–80 % of its side, read at twice the model's size so a crop keeps its detail).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from featurelens.capture import ActivationCapture
from featurelens.data.sources import ImageSource, Skipped
from featurelens.models import LoadedModel
from featurelens.progress import ProgressArg, reporting

REDUCES = ("max", "mean")
SHOWN = 24  # whole inputs kept as pictures for the page
THUMB = 16  # side of the grey thumbnail that tells the same picture apart from others (`drop_repeats`)


@dataclass
class PooledInputs:
    """Pooled scores of one set of inputs: `scores[reduce][layer]` is [N, C] float32; `thumbs` [N, THUMB²] grey
    thumbnails of the whole inputs (crops excluded: a crop is never the same picture); `whole` counts whole inputs."""

    scores: dict[str, dict[str, np.ndarray]]
    thumbs: torch.Tensor
    whole: int
    crops: int
    skipped: list[Skipped] = field(default_factory=list)
    names: list[str | int] = field(default_factory=list)  # how the source names each whole input
    pictures: list[np.ndarray] = field(default_factory=list)  # the first SHOWN whole inputs, uint8 [S, S, C]

    @property
    def count(self) -> int:
        return self.whole + self.crops

    def keep(self, mask: np.ndarray) -> "PooledInputs":
        """The whole inputs where `mask` [whole] is True, with their crops (image i's crops follow image i-1's)."""
        per_image = self.crops // self.whole if self.whole else 0
        full = np.concatenate([mask, np.repeat(mask, per_image)])
        scores = {reduce: {layer: values[full] for layer, values in by_layer.items()} for reduce, by_layer in self.scores.items()}
        names = [name for name, kept in zip(self.names, mask) if kept]
        pictures = [picture for picture, kept in zip(self.pictures, mask) if kept]
        return PooledInputs(scores, self.thumbs[torch.from_numpy(mask)], int(mask.sum()), int(mask.sum()) * per_image, self.skipped,
                            names, pictures)


def pool_inputs(model: LoadedModel, source: ImageSource, layers: list[str], size: int, batch_size: int,
                limit: int | None = None, crops: int = 0, seed: int = 0, progress: ProgressArg = None) -> PooledInputs:
    """Run the first `limit` entries of `source` (None: all) through `model` and pool each layer's channels;
    with `crops`, each image also gives that many random crops (seeded), pooled after the whole images.
    `progress(done, total)` counts entries."""
    pooled: dict[str, dict[str, list[np.ndarray]]] = {reduce: {layer: [] for layer in layers} for reduce in REDUCES}
    crop_pooled: dict[str, dict[str, list[np.ndarray]]] = {reduce: {layer: [] for layer in layers} for reduce in REDUCES}
    thumbs, skipped, names, pictures, whole, cropped = [], [], [], [], 0, 0
    generator = torch.Generator().manual_seed(seed)
    read_size = 2 * size if crops else size
    total = min(len(source), limit) if limit else len(source)
    with torch.no_grad(), ActivationCapture(model.module, layers) as capture, \
            reporting(progress, f"scoring {source.name}", rate_unit="images", transient=True) as report:
        for batch in source.batches(0, limit, batch_size, model.in_channels, read_size):
            skipped.extend(batch.skipped)
            if not len(batch.indices):
                report.update(batch.end, total or None)
                continue
            images = _resized(batch.images, size) if crops else batch.images
            _pool_into(pooled, capture, model, images)
            thumbs.append(_thumbnails(images))
            names.extend(source.key(int(i)) for i in batch.indices)
            pictures.extend(_uint8(image) for image in images[: max(0, SHOWN - len(pictures))])
            whole += len(images)
            if crops:
                pieces = random_crops(batch.images, crops, size, generator)
                _pool_into(crop_pooled, capture, model, pieces)
                cropped += len(pieces)
            report.update(batch.end, total or None)
    source.close()
    scores = {reduce: {layer: np.concatenate(pooled[reduce][layer] + crop_pooled[reduce][layer]) if whole else
                       np.zeros((0, 0), np.float32) for layer in layers} for reduce in REDUCES}
    return PooledInputs(scores, torch.cat(thumbs) if thumbs else torch.zeros(0, THUMB * THUMB), whole, cropped, skipped,
                        names, pictures)


def _uint8(image: torch.Tensor) -> np.ndarray:
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _pool_into(pooled: dict, capture: ActivationCapture, model: LoadedModel, images: torch.Tensor) -> None:
    activations = capture.run(model.normalize(images.to(model.device)))
    for layer, values in pooled["mean"].items():
        act = activations[layer].float()
        flat = act.reshape(act.shape[0], act.shape[1], -1)
        values.append(flat.mean(-1).cpu().numpy())
        pooled["max"][layer].append(flat.amax(-1).cpu().numpy())


def random_crops(images: torch.Tensor, count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random square crops of each image [B, C, S, S] (side 50–80 % of S, anywhere inside), resized to `size`;
    crops of image 0 first, then image 1's …"""
    side = images.shape[-1]
    pieces = []
    for image in images:
        for _ in range(count):
            crop = int(side * (0.5 + 0.3 * torch.rand((), generator=generator).item()))
            y, x = (int(torch.randint(0, side - crop + 1, (), generator=generator)) for _ in range(2))
            pieces.append(_resized(image[None, :, y:y + crop, x:x + crop], size)[0])
    return torch.stack(pieces)


def _resized(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)


def _thumbnails(images: torch.Tensor) -> torch.Tensor:
    grey = images.mean(1, keepdim=True)
    return F.adaptive_avg_pool2d(grey, THUMB).flatten(1).cpu()


def drop_repeats(negatives: PooledInputs, positives: PooledInputs, tolerance: float = 0.01) -> tuple[PooledInputs, int]:
    """The negatives without the pictures that are also positives (the same picture, e.g. re-saved as JPEG: grey
    thumbnails within `tolerance` on average), and how many were dropped."""
    if not negatives.whole or not positives.whole:
        return negatives, 0
    distance = torch.cdist(negatives.thumbs.double(), positives.thumbs.double(), p=1) / (THUMB * THUMB)
    repeated = (distance.min(1).values < tolerance).numpy()
    return (negatives.keep(~repeated), int(repeated.sum())) if repeated.any() else (negatives, 0)
