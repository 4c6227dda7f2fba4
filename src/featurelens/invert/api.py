"""`train` and `decode`: the trained backward network, called like every other technique.

    fl.invert.train("fashion-cnn", "pool2", "fashion-mnist:train", out="inv.pt")
    fl.invert.decode("fashion-cnn", "shirt.png", "pool2:5")        # the shipped pool2 inverter
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from featurelens.errors import FeaturelensError, require_positive
from featurelens.data.sources import open_source
from featurelens.images import ImageInput, as_images
from featurelens.invert.data import training_images
from featurelens.invert.decoding import DecodeResult, decodable_unit, decode_pairs
from featurelens.invert.inverter import Inverter, load_inverter, shipped_inverter_path
from featurelens.invert.training import TrainResult, TrainSettings, command_line, train_inverter
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, shown_by_default
from featurelens.quick import cap, shrink
from featurelens.units import Unit, UnitsInput, as_expressions


@dataclass
class TrainingPlan:
    """A checked training job: model, layer, data source, settings and output file."""

    model: LoadedModel
    layer: str
    data: str
    settings: TrainSettings
    limit: int | None
    out: Path | None

    def describe(self) -> str:
        s = self.settings
        return (f"train a decoder for {self.layer} of {self.model.spec} on {self.model.device} from {self.data}"
                f"{f' (first {self.limit})' if self.limit else ''}: {s.epochs} epoch(s), batch {s.batch_size}, width {s.width}")

    def run(self, progress: ProgressArg = None) -> TrainResult:
        images = training_images(self.data, self.model.in_channels, self.model.input_size, self.limit, self.settings.seed)
        command = command_line(self.model, self.layer, self.data, self.settings, self.limit)
        return train_inverter(self.model, self.layer, images, self.settings, progress, data_name=self.data, out=self.out, command=command)


def plan_training(
    model: LoadedModel | str, layer: str, data: str, settings: TrainSettings | None = None,
    *, limit: int | None = None, out: str | Path | None = None, device: torch.device | str | None = None,
) -> TrainingPlan:
    """Check a training job without running it (see `train`)."""
    loaded = model_for(model, device).require_images("invert")
    settings = shrink(settings or TrainSettings())
    limit = cap("limit", limit)
    settings.check(loaded, layer)
    if limit is not None:
        require_positive("limit", limit)
    if not isinstance(data, (str, Path)):  # the trainer reads the source again every epoch: it must be named
        raise FeaturelensError(f"data to train an inverter on is a folder or a built-in source (fashion-mnist:train, photos), "
                               f"not a {type(data).__name__}: write the images to a folder")
    open_source(data).close()  # the source exists and can be read
    return TrainingPlan(loaded, layer, str(data), settings, limit, Path(out) if out else None)


def train(
    model: LoadedModel | str,
    layer: str,
    data: str,
    *,
    epochs: int = TrainSettings.epochs,
    batch_size: int = TrainSettings.batch_size,
    lr: float = TrainSettings.lr,
    width: int = TrainSettings.width,
    seed: int = TrainSettings.seed,
    feature_layer: str | None = None,
    feature_weight: float = TrainSettings.feature_weight,
    limit: int | None = None,
    out: str | Path | None = None,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> TrainResult:
    """Train a decoder that rebuilds the input image from the activations of `layer`.

    data: "fashion-mnist:train", "photos", a folder of images … (small sources are stretched by random
    crops). `out`: the inverter file, rewritten after every epoch. Ctrl-C keeps the last finished epoch.
    """
    settings = TrainSettings(epochs, batch_size, lr, width, seed, feature_layer, feature_weight)
    return plan_training(model, layer, data, settings, limit=limit, out=out, device=device).run(shown_by_default(progress))


@dataclass
class DecodePlan:
    """A checked decode job: the inverter, images [B, C, S, S] and per decode its unit and image."""

    model: LoadedModel
    inverter: Inverter
    images: torch.Tensor
    units: list[Unit]
    image_index: list[int]

    def describe(self) -> str:
        return (f"decode {len(self.units)} unit(s) of {len(self.images)} image(s) through the {self.inverter.layer} inverter of "
                f"{self.model.spec} on {self.model.device}: {', '.join(dict.fromkeys(str(u) for u in self.units))}")

    def run(self, progress: ProgressArg = None) -> DecodeResult:
        return decode_pairs(self.inverter, self.model, self.images, self.units, self.image_index)


def plan_decode(
    model: LoadedModel | str | None, images: ImageInput, units: UnitsInput, *,
    inverter: Inverter | str | Path | None = None, device: torch.device | str | None = None,
) -> DecodePlan:
    """Check a decode job: the inverter fits the model and the units' layer; the images fit the inverter."""
    if model is None and inverter is None:
        raise FeaturelensError("give a model (its shipped inverter is used) or an inverter file", parameter="model")
    if model is None:
        found = inverter if isinstance(inverter, Inverter) else load_inverter(inverter)
        loaded = model_for(found.model_spec, device)
    else:
        loaded = model_for(model, device).require_images("invert")
        found = inverter if isinstance(inverter, Inverter) else load_inverter(inverter or shipped_inverter_path(loaded))
    found.check_fits(loaded)
    found.to(loaded.device)
    chosen = [decodable_unit(found, loaded, e) for e in as_expressions(units)]
    batch = as_images(images, loaded.in_channels, found.input_size, exact_size=True)
    count = max(len(batch), len(chosen))
    if len(batch) not in (1, count) or len(chosen) not in (1, count):
        raise FeaturelensError(f"got {len(batch)} images and {len(chosen)} units: give one unit per image, one image, or one unit for all")
    image_index = [0 if len(batch) == 1 else n for n in range(count)]
    return DecodePlan(loaded, found, batch, chosen * count if len(chosen) == 1 else chosen, image_index)


def decode(
    model: LoadedModel | str | None, images: ImageInput, units: UnitsInput, *,
    inverter: Inverter | str | Path | None = None, device: torch.device | str | None = None, progress: ProgressArg = None,
) -> DecodeResult:
    """Decode single units: keep one unit of the inverter's layer (zero the rest), decode, and show what it adds.

    model: a spec or loaded model (None: the inverter's); inverter: a file or `Inverter` (default: the one
    shipped with the model); images: paths (read at the inverter's size), PIL images or tensors of exactly
    that size; units: `LAYER`, `LAYER:C`, `LAYER:C@Y,X` … — one per image, one for all, or many for one image.
    """
    return plan_decode(model, images, units, inverter=inverter, device=device).run(shown_by_default(progress))
