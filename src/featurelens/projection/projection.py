"""`project`: what in an image drives a unit, mapped back to pixels (deconvnet, guided backprop or gradient).

Batched like Captum's `NeuronDeconvolution(...).attribute(...)`: a batch of images with one unit each,
one image with many units, or one unit for every image. Each distinct image runs forward once per
layer; its units share that forward and get one backward pass each, batched across images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from featurelens.capture import Probe, probe
from featurelens.errors import FeaturelensError, require_positive
from featurelens.images import ImageInput, as_images, to_pixels
from featurelens.models import LoadedModel, model_for
from featurelens.models.input_sizes import check_accepted
from featurelens.progress import ProgressArg, reporting, shown_by_default
from featurelens.projection.backproject import backproject, projection_batches
from featurelens.projection.rectifiers import check_method
from featurelens.projection.result import ProjectionResult
from featurelens.units import Unit, UnitExpression, UnitsInput, as_expressions, resolve_expression, single_unit
from featurelens.units.resolve import neuron_at

STRONGEST = (-1, -1)  # position placeholder: the unit's strongest position in its image


@dataclass
class ProjectionPlan:
    """A checked projection job: images [B, C, H, W] in [0, 1], and per projection its unit and image."""

    model: LoadedModel
    images: torch.Tensor
    units: list[Unit]
    image_index: list[int]
    method: str
    batch_size: int = 16

    def describe(self) -> str:
        units = ", ".join(dict.fromkeys(str(u) for u in self.units))
        return (f"project {len(self.units)} unit(s) of {len(self.images)} image(s) through {self.model.spec} on "
                f"{self.model.device} by {self.method}: {units}")

    def run(self, progress: ProgressArg = None) -> ProjectionResult:
        """Compute every projection; Ctrl-C keeps the finished ones (in order) and sets `interrupted`."""
        started = time.perf_counter()
        arrays: dict[int, np.ndarray] = {}
        positions: dict[int, tuple[int, int] | None] = {}
        values: dict[int, float] = {}
        interrupted = False
        with reporting(progress, f"projecting {len(self.units)} unit(s)") as report:
            done = 0

            def advance(count: int) -> None:
                nonlocal done
                done += count
                report.update(done, len(self.units))

            try:
                for chunk_images, chunk in projection_batches(self.image_index, self.batch_size):
                    self._project(chunk_images, chunk, advance, arrays, positions, values)
            except KeyboardInterrupt:
                interrupted = True
        finished = sorted(arrays)
        return ProjectionResult(
            arrays=np.stack([arrays[n] for n in finished]) if finished else np.zeros((0, *self.images.shape[1:]), np.float32),
            units=[str(replace(self.units[n], position=positions[n])) if positions[n] else str(self.units[n]) for n in finished],
            positions=[positions[n] for n in finished],
            activations=np.array([values[n] for n in finished], dtype=np.float32),
            image_index=np.array([self.image_index[n] for n in finished], dtype=np.int64),
            method=self.method,
            inputs=to_pixels(self.images),
            seconds=time.perf_counter() - started,
            interrupted=interrupted,
        )

    def _project(self, chunk_images, chunk, advance, arrays, positions, values) -> None:
        model = self.model
        inputs = model.normalize(self.images[chunk_images].to(model.device))
        local = {image: i for i, image in enumerate(chunk_images)}
        units = [self.units[n] for n in chunk]
        wanted = [u.position if isinstance(u.position, tuple) else STRONGEST for u in units]
        result = backproject(
            model.module, inputs, [u.layer for u in units], torch.tensor([u.channel for u in units]), torch.tensor(wanted),
            self.method, torch.tensor([local[self.image_index[n]] for n in chunk]), on_pass=advance,
        )
        grads = result.inputs_grad.float().cpu().numpy()
        for i, n in enumerate(chunk):
            arrays[n] = grads[i]
            positions[n] = result.positions[i]
            values[n] = float(result.activations[i])


def plan_projection(
    model: LoadedModel | str, images: ImageInput, units: UnitsInput, method: str = "deconvnet",
    *, device: torch.device | str | None = None, batch_size: int = 16,
) -> ProjectionPlan:
    """Check a projection job: the method, the images, one unit per image / one image / one unit for all."""
    check_method(method)
    require_positive("batch_size", batch_size)
    loaded = model_for(model, device).require_images("project")
    batch = as_images(images, loaded.in_channels, loaded.input_size, min_size=loaded.min_size)
    chosen = [single_unit(e, "projection") for e in as_expressions(units)]
    count = max(len(batch), len(chosen))
    if len(batch) not in (1, count) or len(chosen) not in (1, count):
        raise FeaturelensError(f"got {len(batch)} images and {len(chosen)} units: give one unit per image, one image, or one unit for all")
    side = loaded.input_size
    check_accepted(loaded, tuple(batch.shape[-2:]), [unit.layer for unit in chosen], f"give {side}×{side} images (files are resized to it)")
    found = probe(loaded, tuple(batch.shape[-2:]))
    resolved = [_projection_unit(unit, loaded, found) for unit in chosen]
    image_index = [0 if len(batch) == 1 else n for n in range(count)]
    per_projection = resolved * count if len(resolved) == 1 else resolved
    return ProjectionPlan(loaded, batch, per_projection, image_index, method, batch_size)


def project(
    model: LoadedModel | str,
    images: ImageInput,
    units: UnitsInput,
    method: str = "deconvnet",
    *,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
    batch_size: int = 16,
) -> ProjectionResult:
    """Project units back to the input by `method` ("deconvnet", "guided" or "gradient").

    images: a path (read at the model's input size), a PIL image, or tensors [C, H, W] / [B, C, H, W] in
    [0, 1]; units: one address or a list — one per image, or one for all images, or many for one image.
    `LAYER:C` takes the channel's strongest position in each image; `LAYER:C@Y,X` and `@center` a fixed one.
    `batch_size` images share one forward pass (memory grows with it).
    """
    return plan_projection(model, images, units, method, device=device, batch_size=batch_size).run(shown_by_default(progress))


def _projection_unit(unit: Unit, model: LoadedModel, found: Probe) -> Unit:
    """A channel (and optional position) of a [C, H, W] or [C] layer, checked at this input size."""
    resolved = resolve_expression(UnitExpression.of(unit), model, found).terms[0][1]
    shape = found.shapes()[resolved.layer]
    if resolved.direction is not None:
        raise FeaturelensError(f"projection takes a channel, not a direction: got {unit} (e.g. {unit.layer}:0)")
    if resolved.channel is None:
        raise FeaturelensError(f"unit {str(unit)!r} names a whole layer: projection needs a channel, e.g. {unit.layer}:0")
    if len(shape) not in (1, 3):
        raise FeaturelensError(f"layer {unit.layer!r} outputs shape {shape}: projection needs a [C, H, W] or [C] layer")
    return neuron_at(resolved, shape)


def load_model_image(model: LoadedModel, path) -> torch.Tensor:
    """An image file as the model reads it: [1, C, S, S] in [0, 1], the centre square at its input size S."""
    return as_images(path, model.in_channels, model.input_size)
