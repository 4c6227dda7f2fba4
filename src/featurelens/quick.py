"""Quick mode: `FEATURELENS_QUICK=1` makes every job small (seconds, not minutes) without changing the command.

It exists for tests and for trying a command out: the README test runs every README line as printed under it.
The same command without the variable does the full work. The variable is read here and nowhere else; plan builders
pass their settings through `shrink` (and single figures through `cap`), so a dry run describes the shrunk job.

What it caps (each only lowers a figure, never raises one):
  steps 2 (render, overview, atlas, evolve; dream: per octave), octaves 1 (dream), data entries 8 (examples, atlas,
  evolve, invert training), units per layer 2 (atlas, overview), top/bottom examples 3 (examples, atlas,
  evolve), diverse images 1 (atlas), epochs 1 (invert and music
  training), simulated listeners 200 (music training), clips 24 (music make: the fewest music training accepts),
  robustness samples 1 (render's figures), 2 inputs and 1 unit in the atlas's projection sanity check, a 4×4 grid whose
  cells need 1 point (map: its 8 inputs' points still fill some cells); dictionary training batches of 64 positions,
  and its evaluation on 16 entries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import TypeVar

ENV_VAR = "FEATURELENS_QUICK"
ALL = "all"

T = TypeVar("T")


@dataclass(frozen=True)
class QuickCaps:
    """The most each figure may be in quick mode, by the name of the setting that holds it."""

    steps: int = 2
    octaves: int = 1
    limit: int = 8  # data entries; None ("all of them") becomes this too
    units: int = 2  # units per layer; "all" becomes this too
    units_per_layer: int = 2
    diverse: int = 1
    k: int = 3  # top and bottom examples kept per unit (each top one projected)
    epochs: int = 1
    listeners: int = 200
    clips: int = 24
    robustness_samples: int = 1
    sanity_inputs: int = 2  # the atlas's projection sanity check: inputs and units projected
    sanity_units: int = 1
    grid: int = 4  # the activation atlas's cells per side
    min_count: int = 1  # points a map's cell needs to be rendered
    batch_rows: int = 64  # dictionary: positions per training step
    eval_limit: int = 16  # dictionary: entries it is measured on


CAPS = QuickCaps()


def active() -> bool:
    """Whether `FEATURELENS_QUICK` is set to something other than empty or 0."""
    return os.environ.get(ENV_VAR, "").strip() not in ("", "0")


def cap(name: str, value: T) -> T:
    """`value` of the setting `name`, lowered to its quick cap in quick mode (None and "all" become the cap)."""
    if not active() or not hasattr(CAPS, name):
        return value
    most = getattr(CAPS, name)
    if value is None or value == ALL:
        return most  # type: ignore[return-value]
    if isinstance(value, str) and value.strip().isdigit():
        return str(min(int(value), most))  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return min(value, most)  # type: ignore[return-value]


def shrink(settings: T) -> T:
    """A settings dataclass with each field quick mode caps lowered to its cap; unchanged outside quick mode."""
    if not active() or not is_dataclass(settings):
        return settings
    lowered = {f.name: cap(f.name, getattr(settings, f.name)) for f in fields(settings) if hasattr(CAPS, f.name)}
    return replace(settings, **lowered)  # type: ignore[type-var]
