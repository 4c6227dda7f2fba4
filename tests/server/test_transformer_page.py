"""The live page on the project's vision transformer (fashion-vit), read as pixels: a token layer's features drawn on
the 7×7 patch grid (64 tiles, not 50 tokens), its attention heads as units, and where the class token attends."""

from __future__ import annotations

import numpy as np
import pytest

from featurelens.models import load_model
from featurelens.server.app import create_app
from tests.server.conftest import RunningServer
from tests.server.test_live_pixels import choose_photo, keep_screenshot, open_photo, settle, tiles

GRID = "(() => { const d = document.getElementById('grid-canvas').dataset; return [+d.channels, +d.cols, +d.tileWidth, +d.tileHeight]; })()"


@pytest.fixture(scope="module")
def vit_server():
    server = RunningServer(create_app(load_model("fashion-vit"), data="photos"))
    yield server
    server.stop()


def show_layer(page, layer: str) -> None:
    """Choose `layer` in the page's menu and wait until a frame of it is drawn."""
    before = settle(page)
    page.select_option("#layer", layer)
    page.wait_for_function(f"() => Number(document.getElementById('grid').dataset.frame) > {before}", timeout=60_000)
    settle(page)


def test_token_features_heads_and_class_attention_are_drawn_on_the_patch_grid(page, vit_server, request) -> None:
    open_photo(page, vit_server.url + "/?layer=blocks.2")
    channels = page.evaluate(GRID)[0]
    assert channels == 64  # the block's features, not its 50 tokens
    first = tiles(page)[..., :3].astype(int)
    assert (first.reshape(64, -1).std(1) > 10).mean() > 0.5  # most features have structure over the patches
    choose_photo(page, 2)
    second = tiles(page)[..., :3].astype(int)
    assert np.abs(second - first).mean() > 5  # and follow the input
    keep_screenshot(page, f"{request.node.name}-features")

    show_layer(page, "blocks.2.attn")
    heads = tiles(page)[..., 0].reshape(4, -1).astype(int)
    assert (heads.max(1) == 255).all() and (heads.std(1) > 2).all()  # each head drawn, varying over the patches
    assert len({tuple(head) for head in heads}) == 4  # and no two heads alike

    show_layer(page, "blocks.1.attn.weights")
    attends = tiles(page)[..., 0].reshape(4, -1).astype(int)
    assert (attends.max(1) == 255).all() and (attends.std(1) > 10).all()  # the class token looks somewhere, per head
    assert page.text_content("#why") == "not for blocks.1.attn.weights: its units are read from the model, not fed back through it"
    keep_screenshot(page, f"{request.node.name}-attention")
