"""Training images for an inverter, from any data source `featurelens.dataset_examples` reads
(`fashion-mnist:train`, `fashion-mnist:test`, `photos`, a folder of images).

Small sources (the 17 bundled photos) are stretched into many training images by random crops
and flips of a larger copy, drawn from a seeded generator.
"""

from __future__ import annotations

import torch

from featurelens.errors import FeaturelensError
from featurelens.data.sources import open_source

SMALL_SOURCE = 1000  # below this many images, train on random crops instead
CROPS = 2048


def training_images(source: str, channels: int, size: int, limit: int | None = None, seed: int = 0) -> torch.Tensor:
    """Images [N, C, size, size] in [0, 1] from `source`, at most `limit` of them."""
    opened = open_source(source)
    try:
        count = len(opened)
        if count == 0:
            raise FeaturelensError(f"data source {source!r} holds no images")
        if count >= SMALL_SOURCE:
            stop = count if limit is None else min(limit, count)
            images = torch.cat([batch.images for batch in opened.batches(0, stop, 2048, channels, size)])
        else:
            large = torch.cat([batch.images for batch in opened.batches(0, None, 64, channels, 2 * size)])
            images = random_crops(large, size, min(limit or CROPS, CROPS), seed)
    finally:
        opened.close()
    if len(images) == 0:
        raise FeaturelensError(f"no image of data source {source!r} could be read")
    return images


def random_crops(images: torch.Tensor, size: int, count: int, seed: int) -> torch.Tensor:
    """`count` random size×size crops (random scale ½–1 of the side, random horizontal flip) of images [N, C, H, W]."""
    generator = torch.Generator().manual_seed(seed)
    height, width = images.shape[-2:]
    crops = []
    for _ in range(count):
        index = int(torch.randint(len(images), (1,), generator=generator))
        side = int(torch.randint(min(height, width) // 2, min(height, width) + 1, (1,), generator=generator))
        top = int(torch.randint(height - side + 1, (1,), generator=generator))
        left = int(torch.randint(width - side + 1, (1,), generator=generator))
        crop = images[index : index + 1, :, top : top + side, left : left + side]
        crop = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        if torch.rand((), generator=generator) < 0.5:
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.cat(crops).clamp(0, 1)
