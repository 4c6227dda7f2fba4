"""Item and user factors: weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008).

Each observed (user, item) pair gets preference 1 and confidence 1 + alpha · plays; unobserved pairs
preference 0, confidence 1. `implicit` reads a matrix of confidences and treats absent entries as
confidence 1, so we hand it 1 + alpha · plays. Or bring item factors of your own (`read_item_factors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from featurelens.audio.listeners import PlayCounts
from featurelens.errors import FeaturelensError


@dataclass
class Factorization:
    """Factors from WMF: scores are `user_factors @ item_factors.T`."""

    user_factors: np.ndarray  # [users, factors] float32
    item_factors: np.ndarray  # [items, factors] float32
    users: list[str]
    items: list[str]


def factorize(plays: PlayCounts, factors: int = 32, alpha: float = 10.0, regularization: float = 0.1,
              iterations: int = 15, seed: int = 0) -> Factorization:
    """Fit WMF by alternating least squares on one CPU thread (BLAS held to one thread: faster, and quiet)."""
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError as error:
        raise FeaturelensError("the 'implicit' package is missing: pip install 'featurelens[audio]'") from error
    from threadpoolctl import threadpool_limits

    confidence = plays.matrix()
    confidence.data = 1.0 + alpha * confidence.data
    with threadpool_limits(1, "blas"):  # implicit checks BLAS threads when the model is made
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, iterations=iterations,
                                        random_state=seed, num_threads=1, calculate_training_loss=False)
        model.fit(confidence.tocsr(), show_progress=False)
    return Factorization(np.asarray(model.user_factors, np.float32), np.asarray(model.item_factors, np.float32),
                         list(plays.users), list(plays.items))


def read_item_factors(path: Path | str) -> tuple[list[str], np.ndarray]:
    """Item factors given directly: a Parquet/CSV table with an `item` column and one numeric column per factor.

    Returns (item names, factors [items, F] float32), factors in the table's column order.
    """
    path = Path(path)
    if not path.is_file():
        raise FeaturelensError(f"item-factor table {path} not found: give a .parquet or .csv with an 'item' column "
                               "and factor columns")
    table = pacsv.read_csv(path) if path.suffix == ".csv" else pq.read_table(path)
    if "item" not in table.column_names or table.num_columns < 2:
        raise FeaturelensError(f"{path} needs an 'item' column and at least one factor column")
    columns = [name for name in table.column_names if name != "item"]
    try:
        values = np.stack([np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=np.float32)
                           for name in columns], axis=1)
    except (TypeError, ValueError) as error:
        raise FeaturelensError(f"{path}: factor columns must be numbers ({error})") from error
    if not np.all(np.isfinite(values)):
        raise FeaturelensError(f"{path} has missing or infinite factor values: fill them in")
    return [str(item) for item in table["item"].to_pylist()], values
