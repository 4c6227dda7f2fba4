"""The knobs of one render, in their own module so the loop, the data check and the Ray runner read them
without importing the plan that uses them."""

from __future__ import annotations

from dataclasses import dataclass, field

from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.models import LoadedModel
from featurelens.rendering.param import PARAMETERIZATIONS, RESOLUTION_FREE
from featurelens.rendering.regularizers import Regularizers
from featurelens.rendering.sizes import AUTO, check_size
from featurelens.rendering.terms import Diversity, ObjectiveTerm
from featurelens.rendering.transforms import RobustnessTransform


PRECISIONS = ("float32", "bfloat16")  # the network's forward and backward in the render loop


@dataclass(frozen=True)
class RenderSettings:
    """Knobs of one render. `size` is pixels or "auto" (per unit: the model's input size for units that see the
    whole input, 128 px for the others); `batch` is images per unit; `max_batch` caps one optimisation's batch;
    `out_size` draws the final images of a resolution-free parameterization (cppn) at another size;
    `judge` names models that judge the finished images (`featurelens.rendering.judging`); `engine` "ray" renders
    the batches on Ray workers (`address`: the cluster to join, None starts a local instance; `workers`: at most
    this many batches at once). `data`: a data source spec (a folder, "fashion-mnist:test", "photos") every image is held
    against on its own objective (None: the model's own data, else the bundled photos); with `retry` the images that
    end below the data's best are rendered again from that best item (`rendering.against_data`). `terms`: objective
    terms of the user's, subtracted after the priors and diversity (`rendering.terms`). `precision` "bfloat16" runs
    the network's steps and the robustness samples under autocast (the image, Adam, the activation and the figures at
    other sizes stay float32)."""

    size: int | str = AUTO
    steps: int = 512
    param: str = "fft"
    lr: float | None = None
    batch: int = 1
    seed: int = 0
    diversity: float = 0.0
    interpolate: bool = False
    transforms: RobustnessTransform | None = field(default_factory=RobustnessTransform)
    regularizers: Regularizers = field(default_factory=Regularizers)
    decorrelate: bool = True
    max_batch: int = 64
    out_size: int | None = None
    judge: tuple[str | LoadedModel, ...] = ()
    engine: str = "local"
    address: str | None = None
    workers: int | None = None
    data: str | None = None
    retry: bool = True
    terms: tuple[ObjectiveTerm, ...] = ()
    precision: str = "float32"

    @property
    def lowered(self) -> bool:
        """Whether the network's steps (and the robustness samples) run under bfloat16 autocast."""
        return self.precision == "bfloat16"

    def objective_terms(self) -> list[ObjectiveTerm]:
        """What each step subtracts from the units' objective: the weighted priors, diversity, then `terms`."""
        built: list[ObjectiveTerm] = [self.regularizers] if self.regularizers.weighted() else []
        if self.diversity:
            built.append(Diversity(self.diversity))
        return [*built, *self.terms]

    def check(self, model: LoadedModel, unit_count: int) -> None:
        require_positive("steps", self.steps)
        require_positive("batch", self.batch)
        require_positive("max_batch", self.max_batch)
        check_size(self.size, model)
        if self.param not in PARAMETERIZATIONS:
            raise FeaturelensError(f"unknown {{parameter}} {self.param!r}: use one of {', '.join(PARAMETERIZATIONS)}", parameter="param")
        if self.lr is not None:
            require_positive("lr", self.lr)
        if self.precision not in PRECISIONS:
            raise bad_parameter("precision", f"use one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.out_size is not None:
            require_positive("out_size", self.out_size)
            if self.param not in RESOLUTION_FREE:
                raise bad_parameter("out_size", f"needs a resolution-free parameterization ({', '.join(RESOLUTION_FREE)}), not {self.param!r}")
        if self.interpolate and unit_count != 2:
            raise bad_parameter("interpolate", f"needs exactly two units, got {unit_count}")
        if self.interpolate and self.batch < 2:
            raise bad_parameter("interpolate", "needs batch of at least 2 (the number of frames)")
        for term in self.terms:
            if not callable(term) or not callable(getattr(term, "layers", None)):
                raise bad_parameter("terms", f"{term!r} is not an objective term: give objects with layers(objective) and "
                                             "__call__(images, activations, objective) (featurelens.rendering.terms)")
