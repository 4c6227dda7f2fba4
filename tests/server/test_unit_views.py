"""A unit's stored views in the live page: missing views are built in the background on request, with progress,
into the atlas folder, so the next visit shows them at once; the views API refuses what is not a unit."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.server.test_live_page import CLICK_TILE

IMAGES_LOADED = """() => Array.from(document.querySelectorAll('#unit-views img')).every(i => i.complete && i.naturalWidth > 0)"""


def open_unit(page, url: str, channel: int) -> None:
    page.goto(url)
    page.wait_for_function("() => Number(document.getElementById('fps').dataset.frames || 0) >= 1", timeout=60_000)  # the first still
    x, y = page.evaluate(CLICK_TILE, channel)
    page.mouse.click(x, y)
    page.wait_for_function("() => document.getElementById('unit-views').dataset.missing !== undefined", timeout=30_000)


def test_missing_views_are_built_on_request_and_kept_for_the_next_visit(page, fashion_server) -> None:
    server, folder = fashion_server
    open_unit(page, server.url, 5)
    assert page.text_content("#unit-title") == "relu2:5"
    assert page.get_attribute("#unit-views", "data-missing") == "renders,examples"
    page.click("#unit-build")
    page.wait_for_selector("#unit-views .job progress", timeout=30_000)  # progress while it runs
    page.wait_for_function("() => document.getElementById('unit-views').dataset.running === 'no' && "
                           "document.getElementById('unit-views').dataset.missing === ''", timeout=120_000)
    page.wait_for_function(IMAGES_LOADED, timeout=30_000)
    # max, min, one diverse; 9 top crops, their 9 projections, 9 bottom crops
    assert page.eval_on_selector_all("#unit-views img", "imgs => imgs.length") == 3 + 9 + 9 + 9
    assert page.eval_on_selector_all("#unit-views .histogram rect", "bars => bars.length") > 0
    assert (folder / "relu2" / "5.json").is_file() and (folder / "relu2" / "5.html").is_file()

    open_unit(page, server.url, 5)  # the next visit: everything at once, nothing to build
    assert page.get_attribute("#unit-views", "data-missing") == ""
    page.wait_for_function(IMAGES_LOADED, timeout=30_000)
    assert page.eval_on_selector_all("#unit-views img", "imgs => imgs.length") == 30 and page.locator("#unit-build").count() == 0


def test_the_views_api_refuses_what_is_not_a_unit(fashion_server) -> None:
    server, _ = fashion_server
    bad_layer = httpx.get(f"{server.url}/api/unit/conv9/0")
    assert bad_layer.status_code == 400 and "no layer 'conv9'" in bad_layer.json()["error"]
    bad_channel = httpx.post(f"{server.url}/api/unit/relu2/640/build")
    assert bad_channel.status_code == 400 and "640" in bad_channel.json()["error"]
    assert httpx.get(f"{server.url}/api/jobs/999").status_code == 400


def test_the_views_copy_the_model_between_live_frames(fashion, tmp_path) -> None:
    """A module copied while a live frame runs would carry that frame's capture hooks (and stop its renders early):
    the copy waits for the live session's lock."""
    import threading

    from featurelens.capture import ActivationCapture
    from featurelens.live import LiveSession
    from featurelens.server.jobs import JobRunner
    from featurelens.server.unit_views import UnitViews

    session = LiveSession(fashion)
    views = UnitViews(fashion, "photos", tmp_path / "atlas", JobRunner(), session.lock)
    errors: list[BaseException] = []

    def open_store() -> None:  # what the first background job does
        try:
            views.store()
        except BaseException as err:  # reported below
            errors.append(err)

    with session.lock, ActivationCapture(fashion.module, ["conv2"]):  # a frame in the model, its hooks installed
        opener = threading.Thread(target=open_store)
        opener.start()
        time.sleep(0.3)  # the opener reaches the copy meanwhile
    opener.join(timeout=60)
    assert not errors  # a copy made mid-frame stops its own first forward early
    copied = views.store().model.module
    assert copied is not fashion.module
    assert not any(module._forward_hooks or module._forward_pre_hooks for module in copied.modules())


def test_the_live_projection_defaults_to_the_atlas_choice_by_sanity_score(fashion, tmp_path) -> None:
    from featurelens.atlas.sanity import projection_choice
    from featurelens.data.sources import open_source
    from featurelens.server import create_app
    from featurelens.server.app import projection_menu

    from tests.server.conftest import RunningServer

    assert [m["method"] for m in projection_menu(tmp_path / "none")] == ["guided", "deconvnet", "gradient"]  # no atlas yet
    folder = tmp_path / "atlas"
    folder.mkdir()
    choice = projection_choice(fashion, open_source("fashion-mnist:test"), "fashion-mnist:test", "auto", 28, limit=50)
    (folder / "atlas.json").write_text(json.dumps({"projection": choice}))
    menu = projection_menu(folder)
    assert menu[0]["method"] == choice["method"] and len(menu) == 3
    assert all("sanity" in m["label"] for m in menu)
    server = RunningServer(create_app(fashion, data="fashion-mnist:test", atlas=folder))
    try:
        page = httpx.get(server.url + "/").text
        options = re.findall(r'<option value="(\w+)">([^<]*sanity[^<]*)</option>', page)
        assert options[0][0] == choice["method"] and "✓" in options[0][1]
    finally:
        server.stop()


def test_a_busy_server_says_so_on_the_page_and_a_build_can_be_cancelled(page, fashion, tmp_path) -> None:
    from featurelens.atlas import AtlasSettings, AtlasStore
    from featurelens.server import ServerLimits, create_app

    from tests.server.conftest import RunningServer

    folder = tmp_path / "atlas"
    AtlasStore.open(folder, fashion, "fashion-mnist:test", settings=AtlasSettings(steps=4096, diverse=1, limit=300))  # a long render
    server = RunningServer(create_app(fashion, data="fashion-mnist:test", atlas=folder, limits=ServerLimits(max_jobs_per_client=1)))
    try:
        open_unit(page, server.url, 3)
        page.click("#unit-build")  # renders and examples: the second job is one more than this client may queue
        page.wait_for_selector("#unit-views p.error", timeout=30_000)
        assert "busy: this client has 1 jobs queued or running" in page.text_content("#unit-views p.error")
        page.wait_for_selector("#unit-views .job button.cancel", timeout=30_000)  # the job that was queued, with its Cancel
        assert server.app.state.jobs.active()
        page.click("#unit-views .job button.cancel")
        page.wait_for_selector("#unit-build", timeout=30_000)  # cancelled: the unit lacks its views again, one click away
        assert page.locator("#unit-views .job").count() == 0 and not server.app.state.jobs.active()
        assert page.get_attribute("#unit-views", "data-missing") == "renders,examples"
    finally:
        server.stop()
