"""An anchored dictionary set in closed form: fixed anchor directions, standardized gains and biases, least-squares decoder.

A feature ranks inputs (top-9 purity, `examples`) by its encoder *direction* only (`Dictionary.unit_map`): with every
direction fixed on its anchor (an extreme centroid of the data, `api`), each feature's gain, bias and decoder row are
free to serve reconstruction without changing what it answers to. Here they are set without gradient steps:
  - gain and bias make each feature's pre-activation its projection standardized over the fit rows, plus `margin`:
    top-k then keeps, for each row, the features that row is most unusual for, so every feature wins the rows it is
    most extreme on (fashion-cnn conv3: none dead, at one thread or two: nothing is trained);
  - the decoder rows and the decoder bias are the least-squares fit of the rows from their codes (normal equations
    in float64, summed over every batch read; training's error metric, an invertible map, leaves that solution as it
    is). Decoder rows are therefore not unit length: their length carries the code's scale, which the encoder cannot
    change without changing which features top-k keeps.
"""

from __future__ import annotations

import time
from typing import Iterator

import torch

from featurelens.dictionary.sae import SparseAutoencoder
from featurelens.progress import ProgressArg, reporting

MARGIN = 1.0  # added to every standardized pre-activation: codes stay nearer the linear part of the ReLU
RIDGE = 1e-6  # of the normal equations' mean diagonal: a feature no row keeps gets a zero decoder row, not a singular solve


@torch.no_grad()
def fit_closed_form(autoencoder: SparseAutoencoder, fit_rows: torch.Tensor, batches: Iterator[torch.Tensor], steps: int,
                    margin: float = MARGIN, progress: ProgressArg = None) -> tuple[int, float]:
    """Set `autoencoder`'s (anchored) gains and biases from `fit_rows` [N, C] and its decoder from up to `steps`
    batches of `batches` (prepared rows, as training sees them); returns (batches read, seconds)."""
    if autoencoder.anchors is None:
        raise ValueError("the closed form needs an anchored autoencoder")
    started = time.perf_counter()
    device = autoencoder.decoder_bias.device
    centre = autoencoder.decoder_bias.detach().clone()
    projection = (fit_rows.to(device) - centre) @ autoencoder.anchors.T  # anchors: unit rows (no shift is learned)
    spread = projection.std(0).clamp_min(1e-6)
    autoencoder.anchor_shift.zero_()
    autoencoder.log_gain.copy_(-spread.log())
    autoencoder.encoder_bias.copy_(margin - projection.mean(0) / spread)
    features = len(spread)
    gram = torch.zeros(features + 1, features + 1, dtype=torch.float64, device=device)
    cross = torch.zeros(features + 1, fit_rows.shape[1], dtype=torch.float64, device=device)
    read = 0
    with reporting(progress, "dictionary (closed form)", rate_unit="steps") as report:
        for rows in batches:
            if read >= steps:
                break
            rows = rows.to(device)
            codes = autoencoder.sparse(autoencoder.pre_codes(rows))
            design = torch.cat([codes, torch.ones(len(rows), 1, device=device)], 1).double()
            gram += design.T @ design
            cross += design.T @ rows.double()
            read += 1
            report.update(read, steps)
    ridge = RIDGE * gram.diagonal().mean() * torch.eye(features + 1, dtype=torch.float64, device=device)
    solution = torch.linalg.solve(gram + ridge, cross).float()
    decoder, bias = solution[:features], solution[features]
    # the file centres the encoder's input on the decoder bias: move the centre to the fitted bias, same pre-activations
    autoencoder.encoder_bias.add_(autoencoder.encoder_weight @ (bias - centre))
    autoencoder.decoder_bias.copy_(bias)
    autoencoder.free_decoder.copy_(decoder)
    autoencoder.eval()
    return read, time.perf_counter() - started
