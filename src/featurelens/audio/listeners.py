"""Listening data: a play-count table (user, item, plays), simulated from listener tastes or read from a file.

The simulation (`simulate_listeners`), per listener u and clip i:

    utility(u, i) = family_strength   · log taste_u(family_i)            taste_u ~ Dirichlet(0.3): one or two
                                                                          favourite instrument families
                  − tempo_strength    · (log tempo_i − log pref_u)² / (2 · 0.35²)   pref_u log-uniform 60-180 bpm
                  + mode_strength     · m_u · (+1 major, −1 minor, 0 drums)         m_u ~ N(0, 1)
                  + register_strength · r_u[register_i]                  r_u ~ N(0, 1) over low/mid/high
                  + density_strength  · d_u · z(log notes per second)_i  d_u ~ N(0, 1)
                  + popularity_strength · (song appeal + clip appeal)    both ~ N(0, 1), shared by everyone
                  + noise_strength    · ε(u, i)                          ε ~ N(0, 1), the listener's whims

Each listener makes `events` plays (log-normal around `mean_events`, so a few listen a lot), each a
draw from softmax(utility(u, ·)); a clip's plays are how often it was drawn. Appeal and whims cannot be
heard in the audio: they are what no content-based model can predict, as with real listeners.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy import sparse

from featurelens.audio.instruments import FAMILIES, REGISTER_TARGETS
from featurelens.errors import FeaturelensError


@dataclass
class PlayCounts:
    """Plays as a sparse table over named users and items: `user[n]` played `item[n]` `plays[n]` times."""

    user: np.ndarray  # int64 indices into `users`
    item: np.ndarray  # int64 indices into `items`
    plays: np.ndarray  # float32, > 0
    users: list[str]
    items: list[str]

    def matrix(self) -> sparse.csr_matrix:
        """Users × items play counts (CSR, float32)."""
        return sparse.csr_matrix((self.plays, (self.user, self.item)), shape=(len(self.users), len(self.items)),
                                 dtype=np.float32)

    def table(self) -> pa.Table:
        return pa.table({"user": [self.users[u] for u in self.user], "item": [self.items[i] for i in self.item],
                         "plays": self.plays})

    def save(self, path: Path | str) -> None:
        """Write as Parquet (or CSV if `path` ends with .csv): columns user, item, plays."""
        path = Path(path)
        (pacsv.write_csv if path.suffix == ".csv" else pq.write_table)(self.table(), path)


def read_play_counts(path: Path | str, items: list[str] | None = None) -> PlayCounts:
    """A user's own play counts: a Parquet or CSV table with columns user, item, plays (other columns ignored).

    Items are named as in the audio folder (the file's path relative to the folder, without extension) or
    as clip ids. With `items`, the item order is fixed to that list and rows naming other items are an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FeaturelensError(f"play-count table {path} not found: give a .parquet or .csv with columns user, item, "
                               "plays")
    table = pacsv.read_csv(path) if path.suffix == ".csv" else pq.read_table(path)
    missing = {"user", "item", "plays"} - set(table.column_names)
    if missing:
        raise FeaturelensError(f"{path} lacks column(s) {', '.join(sorted(missing))}: it needs user, item, plays")
    user_names = [str(u) for u in table["user"].to_pylist()]
    item_names = [str(i) for i in table["item"].to_pylist()]
    plays = np.asarray(table["plays"].to_numpy(zero_copy_only=False), dtype=np.float32)
    if np.any(~np.isfinite(plays)) or np.any(plays < 0):
        raise FeaturelensError(f"{path} has negative or missing plays: plays must be counts ≥ 0")
    users = sorted(set(user_names))
    items = list(items) if items is not None else sorted(set(item_names))
    item_index = {name: n for n, name in enumerate(items)}
    unknown = sorted(set(item_names) - set(item_index))
    if unknown:
        raise FeaturelensError(f"{path} names {len(unknown)} item(s) not in the audio, e.g. {unknown[0]!r}: "
                               "name items by their file path in the folder, without extension")
    user_index = {name: n for n, name in enumerate(users)}
    keep = plays > 0
    user = np.array([user_index[u] for u in user_names], dtype=np.int64)[keep]
    item = np.array([item_index[i] for i in item_names], dtype=np.int64)[keep]
    merged = sparse.coo_matrix((plays[keep], (user, item)), shape=(len(users), len(items))).tocsr().tocoo()
    return PlayCounts(merged.row.astype(np.int64), merged.col.astype(np.int64), merged.data.astype(np.float32),
                      users, items)


@dataclass(frozen=True)
class Tastes:
    """How much each clip attribute sways the simulated listeners (see the module docstring)."""

    family_strength: float = 2.0
    tempo_strength: float = 1.0
    mode_strength: float = 0.7
    register_strength: float = 0.7
    density_strength: float = 0.5
    popularity_strength: float = 0.8
    noise_strength: float = 0.5
    mean_events: float = 60.0  # plays per listener (median)


@dataclass
class Listeners:
    """Simulated listening: the play counts and the hidden tastes that produced them (for checks)."""

    plays: PlayCounts
    family_taste: np.ndarray  # [users, families], rows sum to 1, families in `FAMILIES` order
    tastes: Tastes = field(default_factory=Tastes)


def _attribute(labels: pa.Table, name: str) -> np.ndarray:
    return np.array(labels[name].to_pylist())


def simulate_listeners(labels: pa.Table, listeners: int = 2000, seed: int = 0,
                       tastes: Tastes = Tastes()) -> Listeners:
    """Simulate `listeners` people playing the clips of a collection (its label table); items are its clip ids."""
    rng = np.random.default_rng(seed)
    items = [str(c) for c in labels["clip"].to_pylist()]
    family = np.array([FAMILIES.index(f) for f in _attribute(labels, "family")])
    log_tempo = np.log(_attribute(labels, "tempo").astype(float))
    mode = np.select([_attribute(labels, "mode") == "major", _attribute(labels, "mode") == "minor"], [1.0, -1.0], 0.0)
    registers = list(REGISTER_TARGETS)
    register = np.array([registers.index(r) if r in registers else -1 for r in _attribute(labels, "register")])
    density = np.log(_attribute(labels, "density").astype(float) + 0.1)
    density = (density - density.mean()) / (density.std() + 1e-9)
    songs = _attribute(labels, "song")
    _, song = np.unique(songs, return_inverse=True)
    appeal = rng.normal(size=song.max() + 1)[song] + rng.normal(size=len(items))

    family_taste = rng.dirichlet(np.full(len(FAMILIES), 0.3), size=listeners)
    tempo_pref = rng.uniform(np.log(60), np.log(180), size=(listeners, 1))
    mode_pref = rng.normal(size=(listeners, 1))
    register_pref = np.concatenate([rng.normal(size=(listeners, len(registers))), np.zeros((listeners, 1))], axis=1)
    density_pref = rng.normal(size=(listeners, 1))
    events = np.maximum(1, np.round(tastes.mean_events * rng.lognormal(0.0, 0.7, size=listeners))).astype(int)

    users, rows, cols, counts = [f"listener{u:05d}" for u in range(listeners)], [], [], []
    for u in range(listeners):
        utility = (tastes.family_strength * np.log(family_taste[u, family] + 1e-3)
                   - tastes.tempo_strength * (log_tempo - tempo_pref[u]) ** 2 / (2 * 0.35 ** 2)
                   + tastes.mode_strength * mode_pref[u] * mode
                   + tastes.register_strength * register_pref[u, register]
                   + tastes.density_strength * density_pref[u] * density
                   + tastes.popularity_strength * appeal
                   + tastes.noise_strength * rng.normal(size=len(items)))
        p = np.exp(utility - utility.max())
        drawn = rng.multinomial(events[u], p / p.sum())
        played = np.flatnonzero(drawn)
        rows.append(np.full(len(played), u))
        cols.append(played)
        counts.append(drawn[played])
    plays = PlayCounts(np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64),
                       np.concatenate(counts).astype(np.float32), users, items)
    return Listeners(plays, family_taste, tastes)
