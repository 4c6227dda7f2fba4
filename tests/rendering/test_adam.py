"""The render loop's Adam is torch's Adam, byte for byte, and a render starts optimising without the imports that
made a cached command slow to start (torch's compiler, scipy.stats, FastAPI)."""

from __future__ import annotations

import subprocess
import sys

import torch

from featurelens.rendering.adam import Adam
from featurelens.rendering.param import FourierImage, PixelImage


def test_the_steps_are_torchs_adam_byte_for_byte() -> None:
    for make in (lambda g: FourierImage(3, 3, 32, g, True), lambda g: PixelImage(3, 3, 32, g)):
        ours, theirs = make(torch.Generator().manual_seed(0)), make(torch.Generator().manual_seed(0))
        mine, torchs = Adam(ours.parameters(), lr=0.05), torch.optim.Adam(theirs.parameters(), lr=0.05)
        target = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
        for _ in range(20):
            for param, optimizer in ((ours, mine), (theirs, torchs)):
                optimizer.zero_grad(set_to_none=True)
                ((param() - target) ** 2).sum().backward()
                optimizer.step()
        assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))
        assert not torch.equal(ours(), make(torch.Generator().manual_seed(0))())  # it moved


def test_a_render_reaches_its_first_step_without_the_slow_imports() -> None:
    """What a render command has imported when its first step is done: not torch's compiler (0.75–2 s at the first
    `torch.optim` step), not scipy.stats (0.5 s) or FastAPI (0.2 s), which other commands use."""
    code = """
import sys
import featurelens.rendering.adam as adam
step = adam.Adam.step
def first_step(self):
    step(self)
    print("imported at the first step:", sorted(m for m in ("torch._dynamo", "scipy.stats", "fastapi") if m in sys.modules))
    raise SystemExit(0)
adam.Adam.step = first_step
sys.argv = ["featurelens", "render", "conv3:0", "--model", "fashion-cnn", "--steps", "3", "--out", sys.argv[1]]
from featurelens.cli.app import main
main()
"""
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", code, out], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported at the first step: []" in done.stdout.splitlines(), done.stdout
