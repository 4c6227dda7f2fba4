"""Kept only while `atlas.audio` imports `plan_clip_pass` from here: the clip pass is `run.plan_pass` now."""

from featurelens.dataset_examples.run import plan_pass as plan_clip_pass

__all__ = ["plan_clip_pass"]
