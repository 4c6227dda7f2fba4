"""The sparse autoencoders a dictionary is learned with: `topk`, `batchtopk` and `archetypal`, in one small module.

Written here rather than taken from the `overcomplete` library: it needs torchvision and timm, and PyPI's torchvision
cannot be installed beside the CPU torch build this project pins.

All three share the file format's maths (`dictionary.file`): rows x of C channels are divided by `scale`, centred on
the pre-bias (the data's mean), encoded by `relu(W_enc (x - b_dec) + b_enc)`, made sparse, and decoded with unit-norm
decoder rows. What differs is the sparsity and the decoder:
  - topk (Gao et al. 2024): the k largest codes of each row; AuxK loss (the top `aux_k` dead latents reconstruct the
    residual) keeps latents from dying.
  - batchtopk (Bussmann et al. 2024): the k × rows largest codes of the whole batch (k per row on average); at
    inference, codes above a threshold learned during training (the running mean of the batch's smallest kept code).
  - archetypal (Fel et al. 2025): topk codes, but each decoder atom is a convex combination of real activation
    points (k-means centroids of the data) plus a small relaxation of norm at most `relaxation`, kept on the unit
    sphere: atoms stay in (a relaxed) hull of the data, which makes them stable across runs.
With `anchors` (any method), each encoder row keeps the direction of one anchor (an archetype of the data), moved by at
most `anchor_relaxation`, and learns its gain and bias: a feature then ranks inputs (nearly) as its archetype does,
which keeps features that answer to one kind of input (see `whitening`) while the decoder learns to rebuild the layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from featurelens.dictionary.file import METHODS, Dictionary, kept_codes
from featurelens.errors import FeaturelensError

AUX_WEIGHT = 1 / 32  # Gao et al.'s AuxK coefficient
THRESHOLD_MOMENTUM = 0.99
START_CONFIDENCE = 8.0  # archetypal: logit of an atom's own archetype at the start (≈ 0.97 of its mix for 100s of archetypes)


class SparseAutoencoder(nn.Module):
    """A sparse autoencoder of `features` latents over rows of `channels`; `forward(rows)` → (codes, reconstruction),
    both in the scaled units (rows / scale)."""

    def __init__(self, method: str, channels: int, features: int, k: int, scale: float, pre_bias: torch.Tensor,
                 generator: torch.Generator, aux_k: int | None = None, archetypes: torch.Tensor | None = None,
                 relaxation: float = 0.01, metric: torch.Tensor | None = None, anchors: torch.Tensor | None = None,
                 anchor_relaxation: float = 0.0) -> None:
        super().__init__()
        if method not in METHODS:
            raise FeaturelensError(f"unknown {{parameter}} {method!r}: use {', '.join(METHODS)}", parameter="method")
        self.method, self.k, self.scale = method, k, float(scale)
        self.aux_k = aux_k if aux_k is not None else min(features // 2, 4 * k)
        directions = torch.randn(features, channels, generator=generator) if anchors is None else anchors.detach().float()
        directions = directions / directions.norm(dim=1, keepdim=True)
        if anchors is None:
            self.free_encoder = nn.Parameter(directions.clone())  # tied at the start, as Gao et al. do
        else:  # each feature keeps (within `anchor_relaxation`) its anchor's direction: it ranks inputs as that direction does
            self.register_buffer("anchors", directions.clone())
            self.log_gain = nn.Parameter(torch.full((features,), -math.log(k)))
            self.anchor_shift = nn.Parameter(torch.zeros(features, channels))
            self.anchor_relaxation = anchor_relaxation
        self.encoder_bias = nn.Parameter(torch.zeros(features))
        self.decoder_bias = nn.Parameter(pre_bias.detach().clone().float())
        if anchors is None:
            self.anchors = None
        self.register_buffer("threshold", torch.tensor(-1.0))  # batchtopk: < 0 until the first batch sets it
        # the error is measured after this map [C, C] (whitened rows: the un-whitening, so the loss is the raw layer's)
        self.register_buffer("metric", metric.detach().clone().float() if metric is not None else None)
        if method == "archetypal":
            if archetypes is None:
                raise ValueError("an archetypal dictionary needs its archetypes (points of the data)")
            self.register_buffer("archetypes", archetypes.detach().clone().float())  # [A, C]
            # softmax over archetypes gives convex weights; atom i starts on archetype i (a near-uniform mix of centred
            # points would start every atom near the origin, on one shared direction)
            mixing = 0.01 * torch.randn(features, len(archetypes), generator=generator)
            mixing[torch.arange(features), torch.arange(features) % len(archetypes)] += START_CONFIDENCE
            self.mixing_logits = nn.Parameter(mixing)
            self.relaxation_raw = nn.Parameter(torch.zeros(features, channels))
            self.relaxation = relaxation
            if anchors is None:
                with torch.no_grad():  # atoms of real points are correlated: small codes at the start, or k of them overshoot
                    self.free_encoder.copy_(self.decoder_weight / k)
        else:
            self.free_decoder = nn.Parameter(directions.clone())

    @property
    def encoder_weight(self) -> torch.Tensor:
        """[F, C]; anchored: each anchor direction times its learned (positive) gain."""
        if self.anchors is None:
            return self.free_encoder
        return bounded_unit(self.anchors, self.anchor_shift, self.anchor_relaxation) * self.log_gain.exp()[:, None]

    @property
    def decoder_weight(self) -> torch.Tensor:
        """[F, C], unit rows; archetypal: each row a convex combination of archetypes plus a bounded relaxation."""
        if self.method != "archetypal":
            return self.free_decoder
        return bounded_unit(torch.softmax(self.mixing_logits, dim=1) @ self.archetypes, self.relaxation_raw, self.relaxation)

    def pre_codes(self, rows: torch.Tensor) -> torch.Tensor:
        """`relu` of the encoder: [rows, F] before any sparsity."""
        return torch.relu((rows - self.decoder_bias) @ self.encoder_weight.T + self.encoder_bias)

    def sparse(self, pre: torch.Tensor) -> torch.Tensor:
        """The codes kept: top k per row, or (batchtopk, training) top k × rows of the batch, (inference) above threshold."""
        if self.method == "batchtopk":
            if self.training:
                kept = pre.flatten().topk(min(self.k * len(pre), pre.numel()))
                with torch.no_grad():
                    smallest = kept.values[-1].clamp_min(0)
                    self.threshold.copy_(smallest if self.threshold < 0 else
                                         THRESHOLD_MOMENTUM * self.threshold + (1 - THRESHOLD_MOMENTUM) * smallest)
                return torch.zeros_like(pre).flatten().scatter(0, kept.indices, kept.values).view_as(pre)
            return kept_codes(pre, self.k, self.threshold)
        return kept_codes(pre, self.k)

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.sparse(self.pre_codes(rows))
        return codes, codes @ self.decoder_weight + self.decoder_bias

    def loss(self, rows: torch.Tensor, dead: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(total loss, codes) on a batch of scaled rows: squared error, plus AuxK on the latents `dead` [F] marks."""
        pre = self.pre_codes(rows)
        codes = self.sparse(pre)
        decoder = self.decoder_weight
        residual = rows - (codes @ decoder + self.decoder_bias)
        loss = self._squared(residual).mean()
        dead_count = int(dead.sum())
        if dead_count and self.aux_k:
            aux = (pre * dead).topk(min(self.aux_k, dead_count), dim=1)
            aux_codes = torch.zeros_like(pre).scatter(1, aux.indices, aux.values)
            loss = loss + AUX_WEIGHT * self._squared(residual.detach() - aux_codes @ decoder).mean()
        return loss, codes

    def _squared(self, residual: torch.Tensor) -> torch.Tensor:
        """Squared norm of each row of `residual`, measured after `metric` when there is one."""
        return (residual @ self.metric if self.metric is not None else residual).pow(2).sum(1)

    @torch.no_grad()
    def keep_decoder_on_sphere(self) -> None:
        """After a step: unit decoder rows (archetypal atoms are normalised in `decoder_weight` itself)."""
        if self.method != "archetypal":
            self.free_decoder.div_(self.free_decoder.norm(dim=1, keepdim=True).clamp_min(1e-12))

    def drop_radial_gradient(self) -> None:
        """Before a step: remove the part of the decoder's gradient along its rows (it would only change their norm)."""
        if self.method != "archetypal" and self.free_decoder.grad is not None:
            rows, grad = self.free_decoder.detach(), self.free_decoder.grad
            grad.sub_((grad * rows).sum(1, keepdim=True) * rows)

    def to_dictionary(self, model: str, layer: str, name: str, settings: dict) -> Dictionary:
        """The learned dictionary in the file format (CPU tensors)."""
        threshold = float(self.threshold) if self.method == "batchtopk" and self.threshold >= 0 else None
        return Dictionary(model=model, layer=layer, method=self.method, k=self.k, scale=self.scale,
                          encoder_weight=self.encoder_weight.detach().cpu().clone(), encoder_bias=self.encoder_bias.detach().cpu().clone(),
                          decoder_weight=self.decoder_weight.detach().cpu().clone(), decoder_bias=self.decoder_bias.detach().cpu().clone(),
                          name=name, threshold=threshold, settings=dict(settings))


def bounded_unit(base: torch.Tensor, shift: torch.Tensor, radius: float) -> torch.Tensor:
    """Rows of `base` [F, C] moved by `shift`, each move squashed to a norm below `radius`, then scaled to unit length."""
    norms = shift.norm(dim=1, keepdim=True).clamp_min(1e-12)
    moved = base + shift * (radius * torch.tanh(norms) / norms)
    return moved / moved.norm(dim=1, keepdim=True).clamp_min(1e-12)


def kmeans(points: torch.Tensor, clusters: int, generator: torch.Generator, iterations: int = 10) -> torch.Tensor:
    """`clusters` k-means centroids [clusters, C] of `points` [P, C] (Lloyd's iterations from random points; an empty
    cluster keeps its centroid)."""
    clusters = min(clusters, len(points))
    centroids = points[torch.randperm(len(points), generator=generator)[:clusters]].clone()
    for _ in range(iterations):
        nearest = torch.cdist(points, centroids).argmin(1)
        sums = torch.zeros_like(centroids).index_add_(0, nearest, points)
        counts = torch.bincount(nearest, minlength=clusters).to(points.dtype)[:, None]
        centroids = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)
    return centroids
