"""`find`: which units of a network carry a concept, given pictures of it (positives) and pictures without it.

Each unit's score per input is its activation pooled over positions, `reduce` "max" by default: a unit answers to the
concept where it appears, and its dataset examples are ranked by the same peak, so the AUC measures the score its
examples show (on fashion-cnn conv3 with 60 trousers, the best unit by max AUC has 9 trousers in its top 9; the best by
mean AUC, 3). Units are ranked by ROC AUC, with the best threshold. Per layer a linear probe on the *mean*-pooled
features gives the concept's direction (TCAV's CAV): the mean is what a direction unit `LAYER:dir=F.npy` measures, so
the probe's score is the direction's value, and its examples are ranked by it. The top units and each direction are
rendered in one batch and ranked over a data source in one pass: the direction rides along as the layer
`LAYER/concept`, a one-feature dictionary (`featurelens.dictionary`) pooled to the probe's score (`ConceptScore`),
attached for the run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from featurelens.concepts.inputs import default_negatives, open_inputs, source_name
from featurelens.concepts.pooled import REDUCES, PooledInputs, drop_repeats, pool_inputs
from featurelens.capture import LOGIT
from featurelens.concepts.direction_unit import ConceptScore, concept_dictionary
from featurelens.concepts.probe import fit_probe
from featurelens.concepts.result import FindResult, InputCounts, UnitSeparation
from featurelens.concepts.separation import best_thresholds, roc_auc
from featurelens.dataset_examples import ExamplesSettings, plan_examples
from featurelens.dataset_examples.layers import layer_names
from featurelens.data.sources import ImageSource
from featurelens.dictionary.attach import attached
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.models import LoadedModel, model_for
from featurelens.progress import ProgressArg, shown_by_default
from featurelens.quick import shrink
from featurelens.rendering import RenderSettings, plan_render

MIN_INPUTS = 16  # a side with fewer whole images gets random crops of each up to about this many inputs


@dataclass(frozen=True)
class FindSettings:
    """Knobs of `find`: `reduce` pools a unit over positions ("max" or "mean"); `units` are shown (rendered, with `k`
    examples each); `limit` caps the negatives and the data entries; `crops` per image (None: only a side with fewer
    than 16 images gets them, enough to reach 16); `steps`, `size`, `param` and `seed` are the renders' (the seed
    also picks the crops and the probe's held-out quarter)."""

    reduce: str = "max"
    units: int = 8
    k: int = 9
    limit: int | None = None
    crops: int | None = None
    batch_size: int = 64
    steps: int = 256
    size: int | str = "auto"
    param: str = "fft"
    seed: int = 0

    def check(self) -> None:
        if self.reduce not in REDUCES:
            raise FeaturelensError(f"unknown {{parameter}} {self.reduce!r}: use {' or '.join(REDUCES)}", parameter="reduce")
        for name in ("units", "k", "batch_size", "steps"):
            require_positive(name, getattr(self, name))
        if self.limit is not None:
            require_positive("limit", self.limit)
        if self.crops is not None:
            require_positive("crops", self.crops, allow_zero=True)


@dataclass
class FindPlan:
    """A checked `find`: the model, its layers, the three sources (positives, negatives, data) and the settings."""

    model: LoadedModel
    layers: list[str]
    positives: ImageSource
    negatives: ImageSource
    data: ImageSource
    names: dict[str, str]  # "positives", "negatives", "data" → how each reads on the page
    settings: FindSettings
    render: RenderSettings
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        s = self.settings
        limit = f" (the first {s.limit})" if s.limit else ""
        return (f"find the units of {', '.join(self.layers)} of {self.model.spec} on {self.model.device} that separate "
                f"{len(self.positives)} positive(s) from {self.names['negatives']}{limit}, scored by each unit's {s.reduce} over "
                f"positions; fit the concept's direction per layer; render the top {s.units} unit(s) and the direction(s) "
                f"({s.steps} steps, seed {s.seed}) and rank their top {s.k} examples on {self.names['data']}")

    def run(self, progress: ProgressArg = None) -> FindResult:
        """Score, rank and probe; then render and rank examples of the top units and the directions. Ctrl-C while
        rendering or ranking examples keeps the ranking and what finished (`interrupted`)."""
        started = time.perf_counter()
        s = self.settings
        size = self.model.input_size
        positives = pool_inputs(self.model, self.positives, self.layers, size, s.batch_size, None,
                                self._crops(len(self.positives)), s.seed, progress)
        if not positives.whole:
            first = positives.skipped[0] if positives.skipped else None
            why = f" (e.g. {first.item}: {first.reason})" if first else ""
            raise bad_parameter("positives", f"has no image that could be read: {len(positives.skipped)} unreadable file(s){why}")
        entries = min(len(self.negatives), s.limit) if s.limit else len(self.negatives)
        negatives = pool_inputs(self.model, self.negatives, self.layers, size, s.batch_size, s.limit, self._crops(entries), s.seed + 1,
                                progress)
        negatives, repeats = drop_repeats(negatives, positives)
        if not negatives.count:
            raise bad_parameter("negatives", "has no image left to compare with (none could be read, or all are positives too)")
        ranking = rank_units(positives, negatives, self.layers, s.reduce)
        probes = {layer: fit_probe(positives.scores["mean"][layer], negatives.scores["mean"][layer], s.seed) for layer in self.layers}
        concepts = {layer: concept_dictionary(self.model.spec, self.model.module, layer, probe) for layer, probe in probes.items()}
        shown = min(s.units, len(ranking))
        result = FindResult(
            self.model.spec, self.layers, s.reduce, self.names["positives"], self.names["negatives"], self.names["data"],
            InputCounts(positives.whole, positives.crops), InputCounts(negatives.whole, negatives.crops, repeats), ranking,
            probes, concepts, shown, skipped=positives.skipped + negatives.skipped, positive_names=positives.names,
            positive_pictures=positives.pictures, notes=list(self.notes) + _crop_notes(positives, negatives),
        )
        try:
            self._show(result, progress)
        except KeyboardInterrupt:
            result.interrupted = True
        result.seconds = time.perf_counter() - started
        return result

    def _crops(self, images: int) -> int:
        if self.settings.crops is not None:
            return self.settings.crops
        return 0 if images >= MIN_INPUTS or images == 0 else math.ceil(MIN_INPUTS / images) - 1

    def _show(self, result: FindResult, progress: ProgressArg) -> None:
        """The top units and each layer's direction: rendered in one batch, ranked over the data in one pass."""
        with attached(self.model, list(result.concepts.values()), ConceptScore) as names:
            units = [u.unit for u in result.top] + [f"{name}:0" for name in names]
            result.renders = plan_render(self.model, units, self.render).run(progress)
            if result.renders.interrupted:
                result.interrupted = True
                return
            layers = list(dict.fromkeys([u.layer for u in result.top] + names))
            settings = ExamplesSettings(k=self.settings.k, reduce=self.settings.reduce, batch_size=self.settings.batch_size,
                                        limit=self.settings.limit, checkpoint_every=0)
            result.examples = plan_examples(self.model, self.data, layers, settings).run(progress)
            result.interrupted = result.interrupted or result.examples.interrupted


def rank_units(positives: PooledInputs, negatives: PooledInputs, layers: list[str], reduce: str) -> list[UnitSeparation]:
    """Every unit of `layers`, best AUC first (ties: layer order, then channel)."""
    other = next(r for r in REDUCES if r != reduce)
    found = []
    for layer in layers:
        pos, neg = positives.scores[reduce][layer], negatives.scores[reduce][layer]
        auc = roc_auc(pos, neg)
        other_auc = roc_auc(positives.scores[other][layer], negatives.scores[other][layer])
        cut = best_thresholds(pos, neg)
        found.extend(UnitSeparation(layer, c, float(auc[c]), float(other_auc[c]), float(cut.value[c]), float(cut.accuracy[c]),
                                    bool(cut.above[c])) for c in range(pos.shape[1]))
    order = sorted(range(len(found)), key=lambda i: (-found[i].auc, i))
    return [found[i] for i in order]


def _crop_notes(positives: PooledInputs, negatives: PooledInputs) -> list[str]:
    notes = []
    for side, pooled in (("positives", positives), ("negatives", negatives)):
        if pooled.crops:
            notes.append(f"{pooled.whole} {side} were too few: each also gave {pooled.crops // pooled.whole} random crop(s) "
                         f"(50–80 % of its side), {pooled.count} {side} in all")
    return notes


def one_spec(spec: Any) -> Any:
    """A list of one folder or file as that folder or file (the command line's repeatable options give lists)."""
    return spec[0] if isinstance(spec, (list, tuple)) and len(spec) == 1 and isinstance(spec[0], (str, Path)) else spec


def plan_find(
    model: LoadedModel | str, layers: Sequence[str] | str, positives: Any, negatives: Any = None, data: Any = None,
    settings: FindSettings | None = None, *, device: torch.device | str | None = None,
) -> FindPlan:
    """Check a `find` without running it (see `find`)."""
    s = shrink(settings or FindSettings())
    s.check()
    loaded = model_for(model, device).require_images("find")
    names = layer_names(loaded, layers)
    if LOGIT in names:
        raise bad_parameter("layers", f"names {LOGIT!r}: find ranks the units of layers inside the network (see `featurelens layers`)")
    positives, negatives = one_spec(positives), one_spec(negatives)
    positive_source = open_inputs(positives, "positives")
    notes = []
    if negatives is None:
        negatives = default_negatives(loaded)
        what = "the model's own test data" if loaded.data else "the bundled photos"
        notes.append(f"negatives: {negatives} ({what}; give --negatives to choose)")
    negative_source = open_inputs(negatives, "negatives")
    data_source = negative_source if data is None else open_inputs(data, "data")
    shown_on = negatives if data is None else data
    # Renders are held against the data the examples come from (`rendering.against_data`), when it is named by a spec.
    render = RenderSettings(size=s.size, steps=s.steps, param=s.param, seed=s.seed,
                            data=str(shown_on) if isinstance(shown_on, (str, Path)) else None)
    render.check(loaded, 1)
    where = {"positives": source_name(positives), "negatives": source_name(negatives), "data": source_name(shown_on)}
    return FindPlan(loaded, names, positive_source, negative_source, data_source, where, s, render, notes)


def find(
    model: LoadedModel | str,
    layers: Sequence[str] | str,
    positives: Any,
    negatives: Any = None,
    *,
    data: Any = None,
    reduce: str = FindSettings.reduce,
    units: int = FindSettings.units,
    k: int = FindSettings.k,
    limit: int | None = None,
    crops: int | None = None,
    batch_size: int = FindSettings.batch_size,
    steps: int = FindSettings.steps,
    size: int | str = FindSettings.size,
    param: str = FindSettings.param,
    seed: int = FindSettings.seed,
    device: torch.device | str | None = None,
    progress: ProgressArg = None,
) -> FindResult:
    """Rank the units of `layers` by how well they separate `positives` (pictures of a concept) from `negatives`,
    fit the concept's direction per layer, and render and rank examples of the best units and the direction.

    `positives` / `negatives` / `data`: a folder or image file, a list of them, "fashion-mnist:test", "photos", a
    tensor [N, C, H, W] or any iterable of images. `negatives` None: the model's own test data when it names one
    (fashion-cnn: fashion-mnist:test), else the bundled photos; pictures that are also positives are dropped from
    them. `data` (where the examples come from) None: the negatives. `reduce` pools a unit over positions, "max"
    (default) or "mean"; the direction is fitted on, and its examples ranked by, the mean. Layers include dictionary layers (`LAYER/NAME`, a model loaded with dictionaries): their
    features rank like channels. The same `seed` gives the same result.
    """
    settings = FindSettings(reduce=reduce, units=units, k=k, limit=limit, crops=crops, batch_size=batch_size, steps=steps,
                            size=size, param=param, seed=seed)
    return plan_find(model, layers, positives, negatives, data, settings, device=device).run(shown_by_default(progress))
