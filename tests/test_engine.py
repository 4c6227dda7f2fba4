"""The engine choice: checked before anything runs; without Ray installed, --engine ray says how to get it in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from featurelens.engine import Engine, check_engine
from featurelens.errors import FeaturelensError


def test_without_ray_the_ray_engine_says_how_to_install_it(main_cli, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code, err = main_cli("examples", "--data", "photos", "--layers", "_blocks.4", "--engine", "ray", "--dry-run")
    assert code == 2 and err.count("\n") == 1
    assert "--engine ray needs Ray" in err and "pip install 'featurelens[ray]'" in err
    code, err = main_cli("render", "_blocks.4:0", "--engine", "ray", "--dry-run")
    assert code == 2 and "pip install 'featurelens[ray]'" in err


def test_engine_mistakes_are_named() -> None:
    with pytest.raises(FeaturelensError, match="unknown engine 'spark': use local or ray"):
        check_engine("spark")
    with pytest.raises(FeaturelensError, match="address is a Ray cluster's address"):
        check_engine("local", address="ray://head:10001")
    assert check_engine("local", workers=3) == Engine("local", None, 3)  # local: threads decoding files


def test_the_core_imports_without_ray() -> None:
    code = "import sys; sys.modules['ray'] = None; import featurelens, featurelens.cli.app; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
