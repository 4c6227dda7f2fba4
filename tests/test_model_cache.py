"""The per-weights disk cache: where it lives, what misses, and that a broken file costs a recomputation only."""

from __future__ import annotations

import copy

import torch

from featurelens.model_cache import CACHE_ENV, ModelCache, cache_dir


def test_the_cache_folder_follows_the_variable_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "featurelens"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "featurelens"


def test_an_entry_reads_back_for_its_key_only(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    cache = ModelCache("abc")
    cache.write("figures", {"version": 1, "size": 28}, {"conv3:4": [0.5, 7]})
    assert ModelCache("abc").read("figures", {"size": 28, "version": 1}) == {"conv3:4": [0.5, 7]}
    assert cache.read("figures", {"version": 2, "size": 28}) is None  # a newer computation misses
    assert ModelCache("other weights").read("figures", {"version": 1, "size": 28}) is None


def test_a_corrupt_file_is_a_miss_and_is_written_again(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    cache, key = ModelCache("abc"), {"version": 1}
    cache.write("figures", key, [1, 2])
    cache.path("figures", key).write_text('{"key": {"version": 1}, "value": [1, ')
    assert cache.read("figures", key) is None
    cache.write("figures", key, [3])
    assert cache.read("figures", key) == [3]
    assert [p.name for p in cache.folder.iterdir()] == [cache.path("figures", key).name]  # no temporary left behind


def test_an_unwritable_folder_costs_nothing_but_the_cache(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    ModelCache("abc").write("figures", {}, 1)  # no error
    assert ModelCache("abc").read("figures", {}) is None


def test_the_digest_changes_with_any_weight(fashion):
    changed = copy.deepcopy(fashion.module)
    with torch.no_grad():
        changed.conv3.bias[4] += 1e-6
    assert ModelCache.of(fashion).digest == ModelCache(ModelCache.of(fashion).digest).digest
    assert ModelCache.of(fashion).digest != ModelCache.of(type(fashion)(changed, fashion.spec, 28, 1)).digest
