"""The points of an activation atlas: one layer's activation vectors at random positions of many inputs.

Each input gives `positions` distinct positions of the layer's canonical map `[N, C, *positions]` (seeded, drawn
batch by batch from one generator: the same seed and batch size give the same points). With a class, each point
also gets its attribution to that class's logit: gradient × activation at that position (the logit's gradient with
respect to the vector, dotted with the vector), the linear estimate of what the vector adds to the logit, as in
the paper's class activation atlases. All-zero vectors (a ReLU's silent background) have no cosine direction and
are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from featurelens.capture import LOGIT, ActivationCapture
from featurelens.data.sources import ImageSource
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel
from featurelens.progress import Reporter


@dataclass
class Points:
    """Activation vectors `vectors` [P, C] of inputs `entries` [P] at map positions `positions` [P, D] (D the layer's
    position axes, 0 for a vector layer); `attributions` [P] to the class logit, when a class was given."""

    vectors: np.ndarray
    entries: np.ndarray
    positions: np.ndarray
    attributions: np.ndarray | None
    inputs: int = 0  # inputs with at least one point
    dropped: int = 0  # all-zero vectors left out
    interrupted: bool = False

    def __len__(self) -> int:
        return len(self.vectors)


def sample_points(
    model: LoadedModel, layer: str, source: ImageSource, size: int, *, positions: int, points: int, limit: int | None,
    batch_size: int, seed: int, target: int | None, report: Reporter,
) -> Points:
    """Stream `source` (its first `limit` inputs) until `points` vectors are kept; Ctrl-C keeps what finished."""
    generator = torch.Generator().manual_seed(seed)
    stop = min(limit, len(source)) if limit else (len(source) or None)
    found: dict[str, list[np.ndarray]] = {"vectors": [], "entries": [], "positions": [], "attributions": []}
    kept = dropped = 0
    interrupted = False
    with ActivationCapture(model.module, [layer, LOGIT] if target is not None else [layer], leaves=[layer] if target is not None else ()) as capture:
        try:
            for batch in source.batches(0, stop, batch_size, model.in_channels, size):
                if not len(batch.indices):
                    continue
                acts, grads = _activations(capture, model, layer, batch.images, target)
                sampled = _sample(acts, grads, batch.indices, positions, generator)
                nonzero = np.linalg.norm(sampled["vectors"], axis=1) > 1e-8
                dropped += int((~nonzero).sum())
                for name, values in sampled.items():
                    if values is not None:
                        found[name].append(values[nonzero])
                kept += int(nonzero.sum())
                report.update(min(kept, points), points)
                if kept >= points:
                    break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            source.close()
    if not found["vectors"]:
        raise FeaturelensError(f"no activation of layer {layer!r} to lay out: the source {source.name!r} gave no image, "
                               f"or every vector was zero" if not interrupted else "interrupted before any activation was read")
    joined = {name: np.concatenate(values)[:points] if values else None for name, values in found.items()}
    used = len(np.unique(joined["entries"]))  # the last batch may be read past `points`: count the inputs kept
    return Points(joined["vectors"], joined["entries"], joined["positions"], joined["attributions"], used, dropped, interrupted)


def _activations(capture: ActivationCapture, model: LoadedModel, layer: str, images: torch.Tensor,
                 target: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layer's canonical activations [B, C, …] and, with a `target` class, its logit's gradient with respect to them."""
    inputs = model.normalize(images.to(model.device))
    if target is None:
        with torch.no_grad():
            return capture.run(inputs)[layer].detach(), None
    with torch.enable_grad():
        acts = capture.run(inputs)
        leaf = acts[layer]
        if not leaf.requires_grad:
            raise FeaturelensError(f"layer {layer!r} cannot be fed back into the network, so its points have no attribution to a class: "
                                   "map it without a class")
        gradient, = torch.autograd.grad(acts[LOGIT][:, target].sum(), leaf)
    return leaf.detach(), gradient


def _sample(acts: torch.Tensor, grads: torch.Tensor | None, indices: torch.Tensor, positions: int,
            generator: torch.Generator) -> dict[str, np.ndarray | None]:
    """`positions` distinct random positions per input: vectors [B·k, C], entries, positions [B·k, D], attributions."""
    batch, channels = acts.shape[:2]
    spatial = tuple(acts.shape[2:])
    flat = acts.reshape(batch, channels, -1).float()
    count = flat.shape[2]
    picks = torch.rand(batch, count, generator=generator).argsort(1)[:, :min(positions, count)]  # distinct per input
    index = picks[:, None, :].to(flat.device).expand(-1, channels, -1)
    vectors = flat.gather(2, index)  # [B, C, k]
    attributions = None
    if grads is not None:
        attributions = (grads.reshape(batch, channels, -1).float().gather(2, index) * vectors).sum(1).reshape(-1).cpu().numpy()
    where = np.stack(np.unravel_index(picks.reshape(-1).numpy(), spatial), 1) if spatial else np.zeros((picks.numel(), 0), np.int64)
    return {
        "vectors": vectors.permute(0, 2, 1).reshape(-1, channels).cpu().numpy(),
        "entries": indices[:, None].expand(-1, picks.shape[1]).reshape(-1).numpy(),
        "positions": where.astype(np.int64),
        "attributions": attributions,
    }
