"""The activation pass on Ray (a local instance with 2 CPUs, `ray_local`): workers' rows, merged in shard order, make
the local stream byte for byte, so a seed trains the same dictionary on either engine."""

from __future__ import annotations

import torch

from featurelens.data.sources import open_source
from featurelens.dictionary.api import learn_dictionary
from featurelens.dictionary.stream import RowStream
from featurelens.engine import Engine

# 36 steps of 490 rows: 1.2 passes over 300 images of 49 rows
SMALL = dict(features=128, k=4, batch_rows=490, buffer_rows=4900, images_per_forward=20, limit=300, steps=36, eval_limit=20, purity=False)


def test_the_ray_stream_is_the_local_stream_byte_for_byte(ray_local, fashion, one_thread) -> None:
    source = open_source("fashion-mnist:train")  # as the next test's: each worker reads it once
    stream = lambda engine: RowStream(fashion, "conv3", source, 28, batch_rows=100, capacity=3000, images_per_forward=7,  # noqa: E731
                                      seed=5, passes=2, limit=200, engine=engine)
    local, on_ray = torch.cat(list(stream(Engine()))), torch.cat(list(stream(Engine("ray"))))
    assert len(local) == 2 * 200 * 49 and torch.equal(on_ray, local)  # 8 shards of 4 forwards of 7 (the last: 4 images)


def test_a_seed_trains_the_same_dictionary_on_ray_as_here(ray_local, fashion, one_thread) -> None:
    local = learn_dictionary(fashion, "fashion-mnist:train", "conv3", progress=False, **SMALL)
    on_ray = learn_dictionary("fashion-cnn", "fashion-mnist:train", "conv3", progress=False, engine="ray", **SMALL)
    a, b = on_ray.dictionary, local.dictionary
    assert on_ray.steps == local.steps == 36 and (a.settings, a.metrics, a.scale) == (b.settings, b.metrics, b.scale)
    assert all(torch.equal(getattr(a, name), getattr(b, name)) for name in ("encoder_weight", "encoder_bias", "decoder_weight", "decoder_bias"))


def test_the_dry_run_says_where_the_activation_pass_runs(main_cli, tmp_path) -> None:
    base = ["dictionary", "-m", "fashion-cnn", "-l", "conv3", "-d", "fashion-mnist:train", "--out", str(tmp_path / "d.pt"), "--dry-run"]
    assert main_cli(*base, "--engine", "ray", "--address", "auto")[0] == 0
    assert "; the activation pass on Ray workers on the Ray cluster at auto;" in main_cli.out
    assert main_cli(*base)[0] == 0 and "Ray" not in main_cli.out
