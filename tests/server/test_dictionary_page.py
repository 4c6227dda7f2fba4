"""The live page on a dictionary's features (`--dictionary`): their maps on the grid, "why this class" by features,
and a feature chosen from that list shows its projection — in real Chromium."""

from __future__ import annotations

import numpy as np
import pytest

from featurelens.models import model_for
from featurelens.server.app import create_app
from tests.dictionary.conftest import principal_dictionary
from tests.server.conftest import RunningServer
from tests.server.test_live_pixels import GRID, keep_screenshot, open_photo, tiles


@pytest.fixture(scope="module")
def dictionary_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("dictionary") / "conv3-pca.pt"
    principal_dictionary().save(path)
    server = RunningServer(create_app(model_for("fashion-cnn", "cpu", dictionaries=[path]), data="photos"))
    yield server
    server.stop()


def test_features_are_drawn_on_the_grid_and_explain_the_class(page, dictionary_server, request) -> None:
    open_photo(page, dictionary_server.url + "/?layer=conv3/pca")
    assert page.evaluate(GRID)[0] == 16  # the dictionary's features, on conv3's 7×7 grid
    shown = tiles(page)[..., :3].astype(int).reshape(16, -1)
    assert (shown.std(1) > 5).sum() >= 8  # most features vary over the grid
    assert len({tuple(row) for row in shown}) == 16  # and no two alike
    page.wait_for_function("() => document.querySelectorAll('#why li[data-channel]').length > 0", timeout=60_000)
    names = page.locator("#why li .name").all_inner_texts()
    assert names and all(name.startswith("feature ") for name in names)
    page.locator("#why li[data-channel]").first.click()  # a feature chosen from the list: its projection
    page.wait_for_function("() => document.getElementById('unit-projection').dataset.frame !== undefined", timeout=60_000)
    page.wait_for_function("() => document.getElementById('unit-views').dataset.missing !== undefined", timeout=60_000)
    assert page.locator("#unit-views .error").count() == 0  # its stored views are looked up by its address, '/' and all
    assert page.inner_text("h2:has(#layer-name)") == "Features of conv3/pca"
    assert page.inner_text("#why-hint").startswith("Features of this dictionary")
    keep_screenshot(page, request.node.name)
