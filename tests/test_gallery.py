"""The README's gallery: `scripts/gallery.py --quick` makes every picture from real runs (decodable, small, not blank),
and every picture the README shows is checked in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ("live", "atlas", "channel", "dream", "audio")


def readme_gallery() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"!\[[^\]]*\]\((docs/gallery/[^)]+)\)", text)


def test_the_readme_shows_the_checked_in_gallery():
    linked = readme_gallery()
    assert linked == [f"docs/gallery/{name}.webp" for name in PICTURES]
    sizes = [(ROOT / path).stat().st_size for path in linked]
    assert max(sizes) <= 100_000 and sum(sizes) <= 400_000


def test_the_script_makes_every_picture(tmp_path):
    pytest.importorskip("playwright.sync_api")
    if not os.path.isfile("/usr/bin/chromium"):
        pytest.skip("the live and atlas pictures need Debian's Chromium")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gallery.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in PICTURES:
        path = tmp_path / f"{name}.webp"
        assert path.is_file(), done.stdout
        assert 2_000 < path.stat().st_size <= 100_000
        with Image.open(path) as picture:
            assert picture.format == "WEBP" and picture.width >= 400 and picture.height >= 150
            pixels = np.asarray(picture.convert("L"), dtype=np.float32)
        assert pixels.std() > 20, f"{name} is nearly blank"
