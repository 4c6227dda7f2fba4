"""The activation atlas of fashion-cnn's conv3 over fashion-mnist:test: cells rendered in batches, each cell's
examples from its own neighbourhood, the class view on the labels, the dictionary's features placed, the files."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
from scipy.stats import spearmanr

from featurelens.activation_map import map_activations
from featurelens.activation_map.layout import grid_cells, lay_out
from featurelens.activation_map.points import sample_points
from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist
from featurelens.data.sources import open_source
from featurelens.progress import Reporter


def test_every_cells_render_is_computed_in_a_few_batches(fashion_map) -> None:
    result = fashion_map.result
    assert len(result.cells) >= 30
    assert all(cell.render is not None and cell.render.image.shape[:2] == (28, 28) for cell in result.cells)
    assert result.render_batches == math.ceil(len(result.cells) / result.settings.max_batch)
    # first renders, then at most two rounds of retries for those below the data's best (`rendering.against_data`)
    assert result.render_batches <= fashion_map.render_calls <= 3 * result.render_batches
    assert fashion_map.render_calls * 10 <= len(result.cells)
    assert len({cell.render.image.tobytes() for cell in result.cells}) == len(result.cells)


def test_a_cells_points_and_examples_lie_in_that_cell(fashion_map) -> None:
    result = fashion_map.result
    where = grid_cells(result.xy, result.settings.grid)
    counts = {}
    for row, col in map(tuple, where):
        counts[(row, col)] = counts.get((row, col), 0) + 1
    filled = {(cell.row, cell.col) for cell in result.cells}
    assert filled == {place for place, count in counts.items() if count >= result.settings.min_count}
    for cell in result.cells:
        assert (where[cell.points] == (cell.row, cell.col)).all()
        assert 0 < len(cell.examples) <= result.settings.examples and set(cell.examples) <= set(cell.points)
        x, y = result.xy[cell.examples].T
        assert ((np.floor(y * 10) == cell.row) | (y == 1.0)).all() and ((np.floor(x * 10) == cell.col) | (x == 1.0)).all()
        np.testing.assert_allclose(cell.vector, result.points.vectors[cell.points].mean(0), rtol=1e-5)


def test_the_cell_pages_show_the_examples_of_their_own_cell(fashion_map) -> None:
    result, folder = fashion_map.result, fashion_map.folder
    points = json.loads((folder / "points.json").read_text())
    summary = json.loads((folder / "map.json").read_text())
    assert len(points["entry"]) == len(result.points) == summary["points"] <= 2000
    for record in summary["cells"]:
        page = (folder / "cells" / f"{record['row']}_{record['col']}.html").read_text()
        for rank, entry in enumerate(record["examples"]):
            assert f'alt="input {entry}"' in page and f"examples/{record['row']}_{record['col']}/{rank}.png" in page
            assert any(points["entry"][p] == entry and (points["row"][p], points["col"][p]) == (record["row"], record["col"])
                       for p in range(len(points["entry"])))
    direction = np.load(folder / "directions" / f"{result.cells[0].name}.npy")
    np.testing.assert_allclose(direction, result.cells[0].vector, rtol=1e-6)


def test_the_cells_that_push_trouser_most_hold_trousers(fashion_map) -> None:
    """The class view (each cell's mean gradient × activation to the Trouser logit) ranks the cells where trouser inputs
    fall first: its top tenth holds trousers several times as often as the map does, and attribution and trouser share
    rise together over all cells."""
    result = fashion_map.result
    _, labels = load_fashion_mnist("test")
    labels = np.asarray(labels)
    trouser = FASHION_CLASSES.index("Trouser")
    assert result.class_index == trouser
    ranked = result.class_cells()
    assert len(ranked) == len(result.cells)
    shares = [(labels[result.points.entries[cell.points]] == trouser).mean() for cell in ranked]
    top = ranked[:max(3, len(ranked) // 10)]
    share = (labels[np.concatenate([result.points.entries[cell.points] for cell in top])] == trouser).mean()
    everywhere = (labels[result.points.entries] == trouser).mean()
    assert share >= 3 * everywhere and shares[0] > 0.5, (share, everywhere, shares[:5])
    assert spearmanr([cell.attribution for cell in ranked], shares).statistic > 0.4
    for cell in top:
        assert np.isclose(cell.attribution, result.points.attributions[cell.points].mean())
    index = (fashion_map.folder / "index.html").read_text()
    assert "Cells that push <span class=\"class\">Trouser</span> most" in index and f'href="cells/{top[0].name}.html"' in index


def test_dictionary_features_sit_among_their_nearest_points(fashion_map) -> None:
    result = fashion_map.result
    assert [f.feature for f in result.features] == list(range(len(fashion_map.atoms)))
    vectors = result.points.vectors / np.linalg.norm(result.points.vectors, axis=1, keepdims=True)
    distances = []
    for feature, atom in zip(result.features, fashion_map.atoms):
        assert (feature.row, feature.col) == tuple(grid_cells(np.array([[feature.x, feature.y]]), 10)[0])
        nearest = np.argsort(-(vectors @ (atom / np.linalg.norm(atom))))[:10]
        distances.append(np.linalg.norm(result.xy[nearest].mean(0) - (feature.x, feature.y)))
    assert np.median(distances) < 0.1, distances
    index = (fashion_map.folder / "index.html").read_text()
    assert "Features of <span class=\"name\">conv3/dict</span> on the map" in index and index.count('class="feature mx') == 12


def test_the_same_seed_gives_the_same_points_and_layout(fashion) -> None:
    def points_and_layout(seed: int):
        points = sample_points(fashion, "conv3", open_source("fashion-mnist:test"), 28, positions=2, points=300, limit=None,
                               batch_size=64, seed=seed, target=None, report=Reporter(None, "", None, False))
        return points, lay_out(points.vectors, 15, 0.01, seed).xy

    first, again, other = points_and_layout(1), points_and_layout(1), points_and_layout(2)
    assert np.array_equal(first[0].positions, again[0].positions) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0].positions, other[0].positions)
    assert first[0].entries.tolist() == [i // 2 for i in range(300)]  # two distinct positions of each input, in order
    assert all(tuple(a) != tuple(b) for a, b in zip(first[0].positions[::2], first[0].positions[1::2]))


def test_centred_cells_render_what_sets_them_apart(fashion, tmp_path) -> None:
    """With `center`, a cell renders its mean less the mean of all points: on conv3, whose vectors share a large common
    part, the plain means point much the same way, the centred ones do not."""
    result = map_activations(replace(fashion, data=None), "conv3", "fashion-mnist:test", limit=300, positions=2, grid=5,
                             min_count=3, steps=2, center=True, progress=False)
    overall = result.points.vectors.mean(0)
    for cell in result.cells:
        np.testing.assert_allclose(cell.direction, cell.vector - overall, rtol=1e-4, atol=1e-4)

    def mean_cosine(vectors: np.ndarray) -> float:
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return float((unit @ unit.T)[np.triu_indices(len(unit), 1)].mean())

    assert mean_cosine(np.stack([c.vector for c in result.cells])) > 0.4 > 0.1 > mean_cosine(np.stack([c.direction for c in result.cells]))
    result.save(tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "directions" / f"{result.cells[0].name}.npy"), result.cells[0].direction, rtol=1e-6)
    assert "less the mean of all points rendered as a direction" in (tmp_path / "index.html").read_text()
