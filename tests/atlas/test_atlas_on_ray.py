"""`featurelens atlas --engine ray`: the same site as the local engine — renders byte for byte, the same examples
and distributions — with the renders of every batch and the shards of the pass on Ray workers."""

from __future__ import annotations

import json

import pytest

from featurelens.atlas import atlas

SETTINGS = dict(units=3, steps=6, diverse=1, limit=120, max_batch=6, project=None)  # two units a batch: two batches a layer


@pytest.mark.usefixtures("one_thread")
def test_an_atlas_on_ray_equals_the_local_one(ray_local, fashion, tmp_path, monkeypatch) -> None:
    from featurelens.rendering import on_ray

    batches = []
    spread = on_ray.render_plans_on_ray
    monkeypatch.setattr(on_ray, "render_plans_on_ray", lambda plans, *rest: batches.append(len(plans)) or spread(plans, *rest))
    built = {}
    for engine in ("local", "ray"):
        folder = tmp_path / engine
        result = atlas(fashion, "fashion-mnist:test", ["conv2", "logit"], out=folder, engine=engine, workers=2 if engine == "ray" else None, **SETTINGS)
        assert not result.interrupted
        built[engine] = folder
    assert batches == [2, 2]  # each layer's two batches went to the workers together
    for layer in ("conv2", "logit"):
        for channel in range(3):
            local, on_ray = (json.loads((built[e] / layer / f"{channel}.json").read_text()) for e in ("local", "ray"))
            assert on_ray["examples"] == local["examples"] and on_ray["distribution"] == local["distribution"]
            assert on_ray["render_figures"] == local["render_figures"]
            for name in ("max", "min"):
                assert (built["ray"] / on_ray["renders"][name]).read_bytes() == (built["local"] / local["renders"][name]).read_bytes()
