"""A dictionary learned over whitened rows, folded back, gives the same codes and reconstruction on raw rows."""

from __future__ import annotations

import torch

from featurelens.dictionary.file import Dictionary
from featurelens.dictionary.whitening import Whitening


def test_folding_the_whitening_keeps_codes_and_reconstruction() -> None:
    generator = torch.Generator().manual_seed(0)
    mixing = torch.linalg.qr(torch.randn(16, 16, generator=generator))[0] @ torch.diag(torch.linspace(1, 3, 16))
    rows = torch.randn(4000, 16, generator=generator) @ mixing + 5  # correlated, variances 1 … 9
    whitening = Whitening.fit(rows)
    white = whitening(rows)
    assert torch.allclose(white.mean(0), torch.zeros(16), atol=1e-3)
    assert torch.allclose(torch.cov(white.T), torch.eye(16), atol=0.08)  # up to the ridge

    learned = Dictionary(model="m", layer="l", method="topk", k=3, scale=1.0, encoder_weight=torch.randn(40, 16, generator=generator),
                         encoder_bias=torch.randn(40, generator=generator), decoder_weight=torch.randn(40, 16, generator=generator),
                         decoder_bias=torch.randn(16, generator=generator))
    folded = whitening.fold(learned)
    assert torch.allclose(folded.encode(rows), learned.encode(white), atol=1e-3)
    rebuilt = learned.reconstruct(white) @ whitening.inverse + whitening.mean
    assert torch.allclose(folded.reconstruct(rows), rebuilt, atol=1e-2)
