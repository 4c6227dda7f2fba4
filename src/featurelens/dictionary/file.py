"""A dictionary file: a sparse dictionary learned over one layer's features, saved with what it was learned on.

One `.pt` file (tensors and plain values only, read with `weights_only=True`) holds the encoder and decoder of a
sparse autoencoder over the layer's canonical features at each position (`[N, C, *positions]` → rows of C):

    codes  = sparsity(relu((x / scale - decoder_bias) @ encoder_weight.T + encoder_bias))     [rows, F]
    x_hat  = scale * (codes @ decoder_weight + decoder_bias)                                   [rows, C]

A feature's *value* as a unit is its pre-activation divided by the length of its encoder row (in the layer's own
units): `u_f · x + offset_f` with `u_f` the unit-length encoder direction. It is positive exactly where the feature
fires before the sparsity step, it ranks, renders and projects exactly as the direction `u_f` does (`LAYER:dir=`),
and its minimum means something (after the ReLU every inactive position would read 0).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from featurelens.dictionary.shipped import shipped_dictionary
from featurelens.errors import FeaturelensError

FORMAT = "featurelens-dictionary/1"
METHODS = ("topk", "batchtopk", "archetypal")
NAME = re.compile(r"[A-Za-z_][\w.]*$")  # a dictionary's name, as it appears in `LAYER/NAME:F`
DEFAULT_NAME = "dict"


@dataclass
class Dictionary:
    """A sparse dictionary over `layer` of `model`: F features over C channels (see the module docstring)."""

    model: str
    layer: str
    method: str
    k: int  # active features per position (topk: per row; batchtopk: on average)
    scale: float
    encoder_weight: torch.Tensor  # [F, C]
    encoder_bias: torch.Tensor  # [F]
    decoder_weight: torch.Tensor  # [F, C], rows of unit norm when trained (in whitened units when whitened; closed form: any norm)
    decoder_bias: torch.Tensor  # [C]
    name: str = DEFAULT_NAME
    threshold: float | None = None  # batchtopk: the activation above which a feature fires at inference
    metrics: dict[str, Any] = field(default_factory=dict)  # FVE, L0, dead features, downstream agreement …
    settings: dict[str, Any] = field(default_factory=dict)  # how it was trained (seed, steps, data …)

    @property
    def features(self) -> int:
        return int(self.encoder_weight.shape[0])

    @property
    def channels(self) -> int:
        return int(self.encoder_weight.shape[1])

    @property
    def address(self) -> str:
        """The layer name its features answer to: `LAYER/NAME` (feature f is `LAYER/NAME:f`)."""
        return f"{self.layer}/{self.name}"

    def unit_map(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(directions [F, C] of unit length, offsets [F]): a feature's value at a position is `directions @ x + offsets`,
        its pre-activation over the length of its encoder row (see the module docstring)."""
        length = self.encoder_lengths()
        return self.encoder_weight / self.scale / length[:, None], (self.encoder_bias - self.encoder_weight @ self.decoder_bias) / length

    def encoder_lengths(self) -> torch.Tensor:
        """[F]: the length of each encoder row over the raw layer: a feature's pre-activation is its value times this."""
        return (self.encoder_weight / self.scale).norm(dim=1).clamp_min(1e-12)

    def direction(self, feature: int) -> torch.Tensor:
        """Feature `feature`'s direction over the layer's channels (its encoder row, unit length): the `dir=` vector
        that ranks and renders as the feature does."""
        return self.unit_map()[0][feature]

    def encode(self, rows: torch.Tensor) -> torch.Tensor:
        """Sparse codes [rows, F] of layer rows [rows, C] (top k per row; batchtopk above its threshold)."""
        pre = torch.relu((rows / self.scale - self.decoder_bias) @ self.encoder_weight.T + self.encoder_bias)
        return kept_codes(pre, self.k, self.threshold if self.method == "batchtopk" else None)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Layer rows [rows, C] rebuilt from codes [rows, F]."""
        return self.scale * (codes @ self.decoder_weight + self.decoder_bias)

    def reconstruct(self, rows: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(rows))

    def to(self, device: torch.device | str) -> "Dictionary":
        for name in ("encoder_weight", "encoder_bias", "decoder_weight", "decoder_bias"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def save(self, path: Path | str) -> Path:
        """Write the dictionary to `path` (atomically: a reader never sees half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {key: value.detach().cpu().contiguous() if isinstance(value, torch.Tensor) else value
                  for key, value in asdict(self).items()}
        partial = path.with_name(path.name + ".partial")
        torch.save({"format": FORMAT, **record}, partial)
        partial.replace(path)
        return path


def kept_codes(pre: torch.Tensor, k: int, threshold: float | torch.Tensor | None = None) -> torch.Tensor:
    """The codes a dictionary keeps of pre-activations [rows, F]: those above `threshold` (batchtopk at inference), or
    without one the top `k` of each row. Shared by the file (`Dictionary.encode`) and training (`sae`)."""
    if threshold is not None:
        return pre * (pre > threshold)
    top = pre.topk(min(k, pre.shape[1]), dim=1)
    return torch.zeros_like(pre).scatter(1, top.indices, top.values)


def load_dictionary(path: Path | str) -> Dictionary:
    """The dictionary saved at `path`, or a shipped one by name (`fashion-cnn:conv3`, `dictionary.shipped`); a missing
    or foreign file is a one-line error."""
    shipped = shipped_dictionary(str(path))
    path = Path(path).expanduser()
    if shipped is not None and not path.is_file():
        path = shipped
    if not path.is_file():
        raise FeaturelensError(f"dictionary file {str(path)!r} not found: learn one with `featurelens dictionary --layer L --out {path}`")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — any unreadable file is the same user mistake
        raise FeaturelensError(f"{str(path)!r} is not a readable dictionary file ({type(err).__name__}): learn one with `featurelens dictionary`") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise FeaturelensError(f"{str(path)!r} is not a featurelens dictionary (format {FORMAT}): learn one with `featurelens dictionary`")
    record.pop("format")
    fields = set(Dictionary.__dataclass_fields__)
    dictionary = Dictionary(**{key: value for key, value in record.items() if key in fields})
    check_name(dictionary.name)
    return dictionary


def check_name(name: str) -> str:
    """`name` when it can stand in an address (`LAYER/NAME:F`), else a one-line error."""
    if not NAME.match(name):
        raise FeaturelensError(f"dictionary name {name!r} cannot stand in an address: use letters, digits, '_' and '.', starting with a letter")
    return name
