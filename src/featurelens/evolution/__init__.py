"""Feature evolution: the same units rendered and ranked at every checkpoint of a network's training."""

from featurelens.evolution.checkpoints import Checkpoint, checkpoint_files, model_at, read_checkpoint
from featurelens.evolution.evolve import EvolvePlan, EvolveSettings, evolve, plan_evolve
from featurelens.evolution.result import EvolvedCell, EvolveResult, UnitTimeline

__all__ = [
    "Checkpoint", "EvolvePlan", "EvolveResult", "EvolveSettings", "EvolvedCell", "UnitTimeline", "checkpoint_files", "evolve",
    "model_at", "plan_evolve", "read_checkpoint",
]
