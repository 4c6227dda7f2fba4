"""Sanity checks for projections (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): one score per method.

A projection is worth showing only if it depends on what the network learned and on the input it explains.
Both are measured on a few real inputs, for the units of one layer that fire most on them, each projected from
its strongest position (the same position in every comparison):

- model randomisation: every layer of a copy of the model is re-initialised (`reset_parameters`, seeded; full
  randomisation, the last step of the paper's cascading test) and projects the same units, inputs and positions;
  `model_correlation` is the mean rank correlation between the trained and the randomised projection.
- input dependence: the same unit at the same position projected on different inputs; `input_correlation` is the
  mean correlation between inputs ("the same blob for every top example" gives ≈ 1, as deconvnet does on
  EfficientNet-Lite0's deep blocks: without max-pool switches its backward pass hardly depends on the input).

score = 1 − max(model_correlation, input_correlation): high when the map changes both with the weights and with the
input. A method passes at score ≥ PASS_SCORE (0.2: neither rank order keeps more than 0.8 correlation). A correlation
is |Spearman's ρ| of the two projections' values (signs kept, colour channels apart; a map and its negative are one
picture, inverted) over the values where either is non-zero (pixels outside the receptive field, or cut off by
max-pool switches, would otherwise count as agreement). Not of |projection|: magnitudes keep the receptive field's
envelope, strong at the unit's centre, that a random network shares, which put every method at 0.5–0.95 on
EfficientNet-Lite0's middle blocks. Deterministic for a seed.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from featurelens.capture import LOGIT, capture_activations, probe
from featurelens.errors import FeaturelensError
from featurelens.images import ImageInput, as_images
from featurelens.models import LoadedModel, model_for
from featurelens.photos import photo_batch
from featurelens.projection.backproject import backproject
from featurelens.projection.rectifiers import METHODS, check_method

PASS_SCORE = 0.2
UNITS = 4  # units of the layer projected per input
INPUTS = 4  # inputs taken from the front of what is given
# Not 0: re-initialising in construction order from seed 0 gives back the starting weights of a model trained from
# torch's seed 0 (fashion-cnn's conv1 barely moves in training, so trained and "random" would agree).
SEED = 2018


@dataclass(frozen=True)
class MethodScore:
    """One method's sanity: `score` in [0, 1] (None when the method cannot run on the model, `error` says why)."""

    method: str
    score: float | None
    model_correlation: float | None = None
    input_correlation: float | None = None
    error: str | None = None

    @property
    def passes(self) -> bool:
        return self.score is not None and self.score >= PASS_SCORE

    def to_dict(self) -> dict:
        return {"method": self.method, "score": self.score, "passes": self.passes, "model_correlation": self.model_correlation,
                "input_correlation": self.input_correlation, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict) -> "MethodScore":
        return cls(data["method"], data["score"], data.get("model_correlation"), data.get("input_correlation"), data.get("error"))


@dataclass
class SanityResult:
    """Each method's score on `layer` of `model` (its spec), best first, and the method to show (`chosen`: the best
    one that passes, or the best of all when none passes — `passing` then False)."""

    model: str
    layer: str
    units: list[int]
    inputs: int
    seed: int
    scores: list[MethodScore]
    seconds: float = 0.0
    threshold: float = field(default=PASS_SCORE)

    @property
    def chosen(self) -> str:
        return choose_method(self.scores)

    @property
    def passing(self) -> bool:
        return any(score.passes for score in self.scores)

    def score(self, method: str) -> MethodScore:
        return next(score for score in self.scores if score.method == method)

    def describe(self) -> str:
        """"guided 0.71 ✓, gradient 0.65 ✓, deconvnet 0.08 ✗" (best first)."""
        return ", ".join(f"{s.method} {s.score:.2f} {'✓' if s.passes else '✗'}" if s.score is not None else f"{s.method} n/a"
                         for s in self.scores)

    def to_dict(self) -> dict:
        return {"model": self.model, "layer": self.layer, "units": self.units, "inputs": self.inputs, "seed": self.seed,
                "threshold": self.threshold, "chosen": self.chosen, "passing": self.passing,
                "scores": [score.to_dict() for score in self.scores], "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data: dict) -> "SanityResult":
        return cls(data["model"], data["layer"], list(data["units"]), data["inputs"], data["seed"],
                   [MethodScore.from_dict(s) for s in data["scores"]], data.get("seconds", 0.0), data.get("threshold", PASS_SCORE))


def choose_method(scores: list[MethodScore]) -> str:
    """The best-scoring method that passes; when none passes, the best-scoring one; ties go to the order of METHODS."""
    runnable = [s for s in scores if s.score is not None]
    if not runnable:
        raise FeaturelensError("no projection method can run on this model")
    pool = [s for s in runnable if s.passes] or runnable
    return max(pool, key=lambda s: (s.score, -METHODS.index(s.method))).method


def sanity_layer(model: LoadedModel) -> str:
    """The deepest layer with weights (a convolution, a block) and an H×W > 1 map: its projections go through most of
    the network, where methods fail (an activation such as ReLU6 is skipped: its saturated peaks have no gradient)."""
    modules = dict(model.module.named_modules())
    spatial = [info.name for info in probe(model, model.input_size).layers
               if len(info.shape) == 3 and info.shape[1] * info.shape[2] > 1 and any(True for _ in modules[info.name].parameters())]
    if not spatial:
        raise FeaturelensError(f"{model.spec} has no layer with a [C, H, W] map to check projections on")
    return spatial[-1]


def sanity_scores(
    model: LoadedModel | str, images: ImageInput | None = None, layer: str | None = None, *,
    methods: tuple[str, ...] = METHODS, units: int = UNITS, inputs: int = INPUTS, seed: int = SEED,
) -> SanityResult:
    """Score each of `methods` on `layer` (None: `sanity_layer`) of `model` with the first `inputs` of `images`
    ([B, C, H, W] in [0, 1], a path or PIL image; None: the bundled photos at the model's input size), projecting the
    `units` channels that peak highest on them. Model randomisation re-initialises every layer with `seed`."""
    started = time.perf_counter()
    loaded = model_for(model).require_images("check projections of")
    for method in methods:
        check_method(method)
    batch = photo_batch(loaded.input_size, loaded.in_channels) if images is None else as_images(
        images, loaded.in_channels, loaded.input_size, min_size=loaded.min_size)
    batch = batch[:inputs]
    if len(batch) < 2:
        raise FeaturelensError(f"the sanity check needs at least 2 inputs (it compares projections across inputs), got {len(batch)}")
    layer = layer or sanity_layer(loaded)
    x = loaded.normalize(batch.to(loaded.device))
    channels, positions = _strongest_units(loaded.module, x, layer, units)
    count = len(channels)
    image_of = torch.arange(len(x)).repeat_interleave(count)
    unit_channels = channels.repeat(len(x))
    unit_positions = positions.repeat(len(x), 1) if positions is not None else None
    randomized = randomized_copy(loaded.module, seed)
    scores = []
    for method in methods:
        try:
            trained = backproject(loaded.module, x, layer, unit_channels, unit_positions, method, image_of).inputs_grad
            random = backproject(randomized, x, layer, unit_channels, unit_positions, method, image_of).inputs_grad
        except FeaturelensError as err:
            scores.append(MethodScore(method, None, error=str(err)))
            continue
        a, b = _flat(trained), _flat(random)
        model_rho = float(np.mean([rank_correlation(a[n], b[n]) for n in range(len(a))]))
        by_unit = a.reshape(len(x), count, -1)
        input_rho = float(np.mean([rank_correlation(by_unit[i, u], by_unit[j, u])
                                   for u in range(count) for i in range(len(x)) for j in range(i + 1, len(x))]))
        scores.append(MethodScore(method, round(1.0 - max(model_rho, input_rho), 4), round(model_rho, 4), round(input_rho, 4)))
    scores.sort(key=lambda s: (s.score is None, -(s.score or 0.0), METHODS.index(s.method)))
    return SanityResult(loaded.spec, layer, [int(c) for c in channels], len(x), seed, scores, time.perf_counter() - started)


def best_projection(
    model: LoadedModel | str, layer: str | None = None, images: ImageInput | None = None, *, seed: int = SEED,
) -> tuple[str, SanityResult]:
    """The projection method to show by default for `model` (see `choose_method`) and every method's scores."""
    found = sanity_scores(model, images, layer, seed=seed)
    return found.chosen, found


def randomized_copy(module: nn.Module, seed: int = SEED) -> nn.Module:
    """A copy of `module` with every layer re-initialised (`reset_parameters`, batch-norm statistics too) from `seed`;
    parameters of modules without `reset_parameters` are shuffled. The global random state is left as it was; the
    weights are drawn on the CPU, so a seed gives the same copy on any device."""
    device = next(module.parameters(), torch.empty(0)).device
    copied = copy.deepcopy(module).cpu().eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        reset: set[int] = set()
        for child in copied.modules():
            if hasattr(child, "reset_parameters"):
                child.reset_parameters()
                reset.update(id(p) for p in child.parameters(recurse=False))
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in copied.parameters():
                if id(parameter) not in reset:
                    order = torch.randperm(parameter.numel(), generator=generator)
                    parameter.copy_(parameter.flatten()[order].reshape(parameter.shape))
    return copied.to(device)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """|Spearman's ρ| of two maps over the values where either is non-zero (average ranks for ties; a map and its
    negative are the same picture, inverted); two constant maps count as identical (1) when equal, else unrelated (0)."""
    keep = (a != 0) | (b != 0)
    a, b = a[keep], b[keep]
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    from scipy.stats import spearmanr  # here, not at import: scipy.stats costs every command half a second

    return abs(float(spearmanr(a, b).statistic))


def _flat(projections: torch.Tensor) -> np.ndarray:
    """[N, C·H·W] float64: each projection's values, signs kept."""
    return projections.detach().flatten(1).double().cpu().numpy()


@torch.no_grad()
def _strongest_units(module: nn.Module, x: torch.Tensor, layer: str, count: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The `count` channels of `layer` with the highest peak over the inputs, and each one's (y, x) of that peak
    (None for a [C] layer)."""
    activation = capture_activations(module, x, [layer])[layer].float()
    if activation.dim() not in (2, 4):
        raise FeaturelensError(f"layer {layer!r} outputs shape {tuple(activation.shape[1:])}: projections need a [C, H, W] or [C] layer")
    if layer == LOGIT or activation.dim() == 2:
        peaks = activation.amax(0)
        return _top(peaks, count), None
    batch, channels, height, width = activation.shape
    per_channel = activation.permute(1, 0, 2, 3).reshape(channels, -1)
    chosen = _top(per_channel.amax(1), count)
    where = per_channel[chosen].argmax(1) % (height * width)
    return chosen, torch.stack([where // width, where % width], dim=1).cpu()


def _top(peaks: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the `count` largest values, ties to the lower index (a stable order, so a seed gives one answer)."""
    order = sorted(range(len(peaks)), key=lambda c: (-float(peaks[c]), c))
    return torch.tensor(order[:count], dtype=torch.long)
