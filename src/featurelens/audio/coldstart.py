"""The whole cold-start experiment: clips (a rendered collection or your audio folder) + plays (simulated or your
own) → WMF factors → network → evaluation against baselines on held-out songs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from featurelens.audio.baseline import RidgeRegression, mfcc_statistics
from featurelens.audio.collection import read_clips, read_labels
from featurelens.audio.evaluate import RankingScores, popularity_scores, random_scores, ranking_scores, split_by_song
from featurelens.audio.factors import Factorization, factorize
from featurelens.audio.frontend import LogMel
from featurelens.audio.listeners import PlayCounts, Tastes, simulate_listeners
from featurelens.audio.network import MusicModel
from featurelens.audio.sources import AudioFolder
from featurelens.audio.train import Progress, TrainResult, train_music_cnn
from featurelens.errors import FeaturelensError


@torch.no_grad()
def log_mels_of(waveforms: np.ndarray | torch.Tensor, frontend: LogMel, batch_size: int = 256) -> torch.Tensor:
    """Log-mel spectrograms [N, n_mels, frames] of waveforms [N, samples], computed in batches."""
    waveforms = torch.as_tensor(waveforms)
    return torch.cat([frontend(waveforms[i:i + batch_size]) for i in range(0, len(waveforms), batch_size)])


def _subset(plays: PlayCounts, items: np.ndarray) -> PlayCounts:
    """The plays of `items` only (item indices renumbered in that order)."""
    position = np.full(len(plays.items), -1)
    position[items] = np.arange(len(items))
    keep = position[plays.item] >= 0
    return PlayCounts(plays.user[keep], position[plays.item[keep]], plays.plays[keep], plays.users,
                      [plays.items[i] for i in items])


@dataclass
class ColdStart:
    """What `run_cold_start` made: the trained model, the factorisation it learned, and the evaluation table."""

    model: MusicModel
    training: TrainResult
    factors: Factorization  # WMF on the training songs' clips only
    scores: list[RankingScores]
    train_items: np.ndarray  # row indices of the label table
    test_items: np.ndarray
    plays: PlayCounts
    family_taste: np.ndarray | None = None  # the simulated listeners' hidden tastes, when simulated
    extra: dict = field(default_factory=dict)


def collection_inputs(folder: Path | str, frontend: LogMel | None = None) -> tuple[pa.Table, torch.Tensor]:
    """(label table, log-mels [N, n_mels, frames]) of a collection made by `make_collection`."""
    labels = read_labels(folder)
    return labels, log_mels_of(read_clips(folder, labels), frontend or LogMel())


def folder_inputs(audio: AudioFolder, frontend: LogMel | None = None,
                  seconds: float = 3.0) -> tuple[pa.Table, torch.Tensor]:
    """(label table, log-mels) of a user's audio folder: each file is an item and its own song; the middle
    `seconds` of each file is used (shorter files were padded by `load_audio_folder`, and are padded here)."""
    frontend = frontend or LogMel(sample_rate=audio.sample_rate)
    samples = int(round(seconds * audio.sample_rate))
    rows = np.zeros((len(audio.clips), samples), np.float32)
    for row, clip in zip(rows, audio.clips):
        start = max(0, (len(clip.audio) - samples) // 2)
        piece = clip.audio[start:start + samples]
        row[: len(piece)] = piece
    items = audio.items
    labels = pa.table({"clip": items, "song": items, "seconds": [float(seconds)] * len(items)})
    return labels, log_mels_of(rows, frontend)


def align_factors(items: list[str], factor_items: list[str],
                  factors: np.ndarray) -> tuple[np.ndarray, torch.Tensor, list[str]]:
    """Match item factors given directly to the audio's items by name.

    Returns (rows of `items` that have factors, their factors [rows, F], the items without factors).
    """
    by_name = {name: n for n, name in enumerate(factor_items)}
    rows = np.array([n for n, item in enumerate(items) if item in by_name], dtype=np.int64)
    if len(rows) == 0:
        raise FeaturelensError(f"none of the {len(items)} audio items has factors (e.g. {items[0]!r} against "
                               f"{factor_items[0]!r}): name factor rows by file path without extension")
    targets = torch.from_numpy(np.asarray(factors, np.float32)[[by_name[items[n]] for n in rows]])
    return rows, targets, [item for item in items if item not in by_name]


def run_cold_start(labels: pa.Table, log_mels: torch.Tensor, plays: PlayCounts | None = None, listeners: int = 2000,
                   tastes: Tastes = Tastes(), factors: int = 32, alpha: float = 10.0, epochs: int = 20,
                   test_fraction: float = 0.2, k: int = 10, seed: int = 0, frontend: LogMel | None = None,
                   network: dict | None = None, progress: Progress | None = None) -> ColdStart:
    """Hold out a fraction of the songs, factorise the plays of the rest, train the network on their clips and
    rank the held-out clips for every listener.

    `labels` needs columns clip (the item names), song and seconds (`collection_inputs` or `folder_inputs`
    make them); `log_mels` are the clips' spectrograms in the same order. Without `plays`, listeners are
    simulated from the collection's labels. Rows of the result's `scores`: the network; the factorisation's
    own factors for the held-out clips from a factorisation that saw their plays (upper bound); MFCC
    statistics + ridge; popularity; random.
    """
    frontend = frontend or LogMel()
    family_taste = None
    if plays is None:
        if "family" not in labels.column_names:
            raise FeaturelensError("no play counts given, and these clips have no collection labels to simulate "
                                   "listeners from: pass plays=read_play_counts(path, items=...)")
        simulated = simulate_listeners(labels, listeners, seed, tastes)
        plays, family_taste = simulated.plays, simulated.family_taste
    if plays.items != [str(c) for c in labels["clip"].to_pylist()]:
        raise FeaturelensError("the play counts' items are not the clips in order: read them with "
                               "read_play_counts(path, items=labels['clip'].to_pylist())")
    train, test = split_by_song(labels, test_fraction, seed)
    learned = factorize(_subset(plays, train), factors, alpha, seed=seed)
    everything = factorize(plays, factors, alpha, seed=seed)
    targets = torch.from_numpy(learned.item_factors)
    training = train_music_cnn(log_mels[train], targets, epochs=epochs, seed=seed, network=network, progress=progress)
    model = MusicModel(training.module, frontend, clip_seconds=float(labels["seconds"][0].as_py()))
    with torch.no_grad():
        predicted = torch.cat([model.module(log_mels[test][i:i + 256]) for i in range(0, len(test), 256)]).numpy()
    mfcc = RidgeRegression(seed=seed).fit(mfcc_statistics(log_mels[train]), learned.item_factors)
    held_out = plays.matrix()[:, test]
    users = learned.user_factors
    scores = [
        ranking_scores("cold-start CNN (predicted factors)", users @ predicted.T, held_out, k),
        ranking_scores("upper bound: WMF factors that saw the held-out plays",
                       everything.user_factors @ everything.item_factors[test].T, held_out, k),
        ranking_scores("MFCC statistics + ridge regression", users @ mfcc.predict(mfcc_statistics(log_mels[test])).T,
                       held_out, k),
        ranking_scores("popularity (other listeners' held-out plays)", popularity_scores(held_out), held_out, k),
        ranking_scores("random", random_scores(held_out.shape, seed), held_out, k),
    ]
    return ColdStart(model, training, learned, scores, train, test, plays, family_taste,
                     extra={"mfcc_penalty": mfcc.penalty})
