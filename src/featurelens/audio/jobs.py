"""The library side of `featurelens music make|train`: checked plans that describe themselves and run with progress.

    plan_collection(folder, CollectionJob(...)).run(progress)   render clips (resumable: a rerun carries on)
    plan_training(collection, TrainingJob(...)).run(progress)   simulate listeners, factorise, train, evaluate

The training result saves the weights where `music-cnn:FILE.pt` loads them as a model spec.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featurelens.audio.listeners import Tastes
from featurelens.audio.sources import default_collection
from featurelens.audio.synth import SOUNDFONT
from featurelens.errors import FeaturelensError, bad_parameter, require_positive
from featurelens.progress import ProgressArg, reporting
from featurelens.quick import shrink
from featurelens.results import TechniqueResult

@dataclass(frozen=True)
class CollectionJob:
    """Knobs of `music make` (see `featurelens.audio.collection.make_collection`)."""

    clips: int = 2000
    seconds: float = 3.0
    seed: int = 0
    clips_per_song: int = 4


@dataclass
class CollectionPlan:
    """A checked collection job; `existing` clips are already in the folder (made with the same settings)."""

    folder: Path
    job: CollectionJob
    existing: int = 0

    def describe(self) -> str:
        carried = f"; {self.existing} already there, carried on" if self.existing else ""
        return (f"make {self.job.clips} clips of {self.job.seconds:g} s from the music21 corpus in {self.folder} "
                f"(seed {self.job.seed}, {self.job.clips_per_song} instrument families per song{carried})")

    def run(self, progress: ProgressArg = None):
        """Render the missing clips; Ctrl-C keeps every finished clip (the same command carries on)."""
        from featurelens.audio.collection import make_collection

        with reporting(progress, "music clips", rate_unit="clips") as report:
            return make_collection(self.folder, self.job.clips, self.job.seconds, self.job.seed, self.job.clips_per_song,
                                   progress=lambda done, total: report.update(done, total))


def plan_collection(folder: Path | str | None = None, job: CollectionJob | None = None) -> CollectionPlan:
    """Check a collection job cheaply: the knobs, the soundfont, and settings that match the folder's clips."""
    job = shrink(job or CollectionJob())
    require_positive("clips", job.clips)
    if job.seconds <= 0:
        raise bad_parameter("seconds", f"must be positive, got {job.seconds}")
    if not 1 <= job.clips_per_song <= 7:
        raise bad_parameter("clips_per_song", f"must be 1..7 (one instrument family each), got {job.clips_per_song}")
    if not SOUNDFONT.is_file():
        raise FeaturelensError(f"the General MIDI soundfont {SOUNDFONT} is missing: apt-get install -y "
                               "--no-install-recommends fluidsynth fluid-soundfont-gm")
    folder = Path(folder).expanduser() if folder is not None else default_collection()
    from featurelens.audio.collection import TABLE, CollectionSettings, check_settings, read_labels

    check_settings(folder, CollectionSettings(job.seed, float(job.seconds), clips_per_song=job.clips_per_song))
    existing = read_labels(folder).num_rows if (folder / TABLE).is_file() else 0
    return CollectionPlan(folder, job, existing)


@dataclass(frozen=True)
class TrainingJob:
    """Knobs of `music train` (see `featurelens.audio.coldstart.run_cold_start`)."""

    epochs: int = 20
    listeners: int = 3000
    factors: int = 32
    family_strength: float = Tastes().family_strength
    seed: int = 0


@dataclass
class TrainingResult(TechniqueResult):
    """A trained cold-start network and its held-out evaluation (`cold_start.scores`: network, upper bound, baselines)."""

    cold_start: object  # featurelens.audio.coldstart.ColdStart
    clips: int
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C during training: the network of the last finished epoch

    @property
    def images(self) -> np.ndarray:
        return np.zeros((0, 1, 1, 3), np.uint8)

    def summary(self) -> dict:
        training = self.cold_start.training
        return {"clips": self.clips, "epochs": training.epochs, "seconds": round(self.seconds, 1),
                "interrupted": self.interrupted,
                "scores": {s.method: {"auc": round(s.auc, 4), "precision": round(s.precision, 4)} for s in self.cold_start.scores}}

    def save(self, path: str | Path) -> Path:
        """The weights and conventions in one file, loadable as the model spec `music-cnn:PATH`."""
        from featurelens.audio.network import save_music_model

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_music_model(self.cold_start.model, path, extra=self.summary())
        return path


@dataclass
class TrainingPlan:
    folder: Path
    job: TrainingJob
    clips: int

    def describe(self) -> str:
        return (f"train music-cnn for {self.job.epochs} epochs on {self.clips} clips of {self.folder} ({self.job.listeners} "
                f"simulated listeners, {self.job.factors} WMF factors, seed {self.job.seed}) on cpu, then evaluate on "
                "held-out songs")

    def run(self, progress: ProgressArg = None) -> TrainingResult:
        """Listeners, factors, training (Ctrl-C keeps the last finished epoch), evaluation."""
        from featurelens.audio.coldstart import collection_inputs, run_cold_start

        started = time.perf_counter()
        labels, log_mels = collection_inputs(self.folder)
        job = self.job
        with reporting(progress, "training music-cnn", rate_unit=None) as report:
            def trained(epoch: int, batch: int, batches: int, loss: float) -> None:
                report.update(epoch * batches + batch + 1, job.epochs * batches, loss=loss)

            result = run_cold_start(labels, log_mels, listeners=job.listeners, tastes=Tastes(family_strength=job.family_strength),
                                    factors=job.factors, epochs=job.epochs, seed=job.seed, progress=trained)
        return TrainingResult(result, labels.num_rows, time.perf_counter() - started, result.training.interrupted)


def plan_training(collection: Path | str | None = None, job: TrainingJob | None = None) -> TrainingPlan:
    """Check a training job cheaply: the knobs and a collection with enough clips."""
    job = shrink(job or TrainingJob())
    for name in ("epochs", "listeners", "factors"):
        require_positive(name, getattr(job, name))
    if job.family_strength < 0:
        raise bad_parameter("family_strength", f"must not be negative, got {job.family_strength}")
    folder = Path(collection).expanduser() if collection is not None else default_collection()
    from featurelens.audio.collection import TABLE, read_labels

    if not (folder / TABLE).is_file():
        raise FeaturelensError(f"{folder} is no music collection (no {TABLE}): make one with `featurelens music make`",
                               parameter="collection")
    clips = read_labels(folder).num_rows
    if clips < 20:
        raise FeaturelensError(f"{folder} has {clips} clips: training needs at least 20 (hold-out songs included); "
                               "make more with `featurelens music make --clips N`", parameter="collection")
    return TrainingPlan(folder, job, clips)
