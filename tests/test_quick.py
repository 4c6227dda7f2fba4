"""Quick mode lowers the figures it caps, only under FEATURELENS_QUICK, never raising one; plans describe the shrunk job."""

from __future__ import annotations

import pytest

from featurelens.atlas.settings import AtlasSettings
from featurelens.quick import CAPS, ENV_VAR, active, cap, shrink
from featurelens.rendering import RenderSettings


@pytest.mark.parametrize("value", ["", "0"])
def test_off_unless_set_to_something_other_than_0(monkeypatch, value) -> None:
    monkeypatch.setenv(ENV_VAR, value)
    assert not active()
    settings = AtlasSettings(units="all", steps=256, limit=None)
    assert shrink(settings) == settings and cap("steps", 512) == 512


def test_caps_lower_figures_and_never_raise_them(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "1")
    assert active()
    assert cap("steps", 512) == CAPS.steps and cap("steps", 1) == 1
    assert cap("limit", None) == CAPS.limit and cap("units", "all") == CAPS.units and cap("units", "64") == str(CAPS.units)
    assert cap("seed", 7) == 7  # not a cost: left alone
    atlas = shrink(AtlasSettings(units="all", steps=256, limit=2000, diverse=4, seed=3))
    assert (atlas.units, atlas.steps, atlas.limit, atlas.diverse, atlas.seed) == (CAPS.units, CAPS.steps, CAPS.limit, 1, 3)
    render = shrink(RenderSettings(steps=2, batch=6))
    assert render.steps == 2 and render.batch == 6


def test_a_plan_describes_the_shrunk_job(monkeypatch, fashion) -> None:
    from featurelens.rendering import plan_render

    monkeypatch.delenv(ENV_VAR, raising=False)
    assert "512 steps" in plan_render(fashion, "conv3:0").describe()
    monkeypatch.setenv(ENV_VAR, "1")
    assert f"{CAPS.steps} steps" in plan_render(fashion, "conv3:0").describe()
