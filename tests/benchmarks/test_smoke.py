"""Every script in benchmarks/ runs in its smoke mode (`--smoke`: the same code path at tiny sizes, seconds): it
starts, measures and prints the lines that carry its figures, each a finite number (a NaN, an `inf` or a missing
line fails). The figures' values are not checked: at smoke sizes they say nothing about speed."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from featurelens.data import fashion_mnist

from tests.conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
TIMEOUT = 300  # seconds; a smoke run takes 5–45 s on two busy cores

NUM = r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])"  # a finite number, not NaN or inf
SIGNED = rf"-?{NUM}"
POS = r"(?<![\d.])(?:\d*[1-9]\d*(?:\.\d+)?|\d+\.\d*[1-9]\d*)(?![\d.])"  # a rate that is more than zero


def _modules(*names: str) -> str | None:
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    return f"{', '.join(missing)} missing: pip install -e '.[test,audio,ray]' (scripts/install.sh does)" if missing else None


def _chromium() -> str | None:
    return None if os.path.isfile(CHROMIUM) else "apt-get install chromium"


def _fashion_mnist() -> str | None:
    return None if fashion_mnist.dataset_dir().is_dir() else "apt-get install dataset-fashion-mnist"


def _music() -> str | None:
    if missing := _modules("music21", "fluidsynth", "soundfile"):
        return missing
    if not os.path.isfile("/usr/share/sounds/sf2/FluidR3_GM.sf2"):
        return "apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm"
    return None


@dataclass(frozen=True)
class Smoke:
    script: str
    figures: tuple[str, ...]  # each must match a line of the output ({num}, {signed}, {pos} stand for figures)
    args: tuple[str, ...] = ()
    needs: tuple = ()  # checks that return why the script cannot run here, or None

    def __str__(self) -> str:
        return " ".join((self.script, *self.args))


SMOKES = [
    Smoke("render.py", (
        r"^featurelens: {num}s total, {num}s/unit$",
        r"default layout\): {num}s/unit -> featurelens/raw = {num}x$",
        r"channels-last layout as featurelens uses\): {num}s/unit -> featurelens/raw = {num}x$",
        r"^featurelens activation: median {signed}, natural-photo max median {signed}$",
        r"^(lucent: {num}s/unit over \d+ units -> lucent/featurelens = {num}x|lucent is not installed, its rows are skipped .*)$",
    )),
    Smoke("render.py", (
        r"^featurelens defaults \(size auto\), judged probability per seed \(0 1\): {num} {num}$",
        r"^\| featurelens defaults \(size auto\) \| \d+ \| {num} \| {num} \| {num} \| {num} \|$",
    ), args=("--mode", "transfer", "--seeds", "0", "1")),
    Smoke("render.py", (
        r"^\| _blocks\.10:0…1 \| featurelens, scales spanned \| 224 \| {signed} \| {signed} \| {signed} \| {signed} \|$",
        r"^median difference between 128 px and 224 px, featurelens, scales not spanned: {num} % over \d+ units \(target ≤ 20 %\)$",
        r"^(\| _blocks\.10:0…0 \| Lucent, \d+ steps \| 128 \| {signed} \| {signed} \| {signed} \| {signed} \||lucent is not installed, its rows are skipped .*)$",
    ), args=("--mode", "scale")),
    Smoke("render.py", (
        r"^(\| _blocks\.10:0…1 \| {num} \| {signed} \| 3 \| 224 \| {num} \| {signed} \| (yes|no) \| \*\*{num}×\*\* \||lucent is not installed.*nothing to do)$",
        r"^(\| logit:285…967 \| {num} \| {signed} \| 3 \| 224 \| {num} \| {signed} \| (yes|no) \| \*\*{num}×\*\* \||lucent is not installed.*nothing to do)$",
    ), args=("--mode", "quality")),
    Smoke("schedule.py", (
        r"^\| _blocks\.4:0…0 \| 3 \| before \| 64 \| {signed} \| {signed} \| {num} % \|$",
        r"^\| logit:285…285 \| 3 \| now \| 64 \| {signed} \| {signed} \| {num} % \|$",
        r"^median difference between 128 px and 224 px, schedule now: {num} % over \d+ renders \(target ≤ 20 %\)$",
    )),
    Smoke("dream.py", (
        r"^\| featurelens dream, \d+ octaves × \d+ steps \| {num} \| {num} \|$",
        r"^\| featurelens dream, 1 octave × \d+ steps \| {num} \| {num} \|$",
        r"^\| torch-dreams render, \d+ iterations \| ({num} \| {num}|could not run: .+) \|",
    )),
    Smoke("examples.py", (
        r"^fashion-mnist:train .*: raw forward {pos} images/s, examples pass {pos} images/s, ratio {num}",
        r"^photo folder .*: raw forward {pos} images/s, examples pass {pos} images/s, ratio {num}",
        r"^projections of \d+ top examples .*: {num} s against {num} s raw forward\+backward → ratio {num}",
    ), needs=(_fashion_mnist,)),
    Smoke("dictionary.py", (
        r"^activation pass, \d+ images of fashion-mnist:train to conv3 \(\d+ positions\): raw forward {pos} images/s, stream {pos} images/s, ratio {num} "
        r"\(medians of \d+ interleaved repeats; ratios {num}( {num})*\)$",
        r"^training topk 1024 features k=8: \d+ steps of 4096 positions in {num} s, {pos} positions/s \(stream included\); FVE {signed}$",
        r"^memory: peak live tensors {pos} MiB during \d+ training steps \(buffer bound {num} MiB\); every activation of .* {num} MiB, {num}x the peak$",
    ), needs=(_fashion_mnist,)),
    Smoke("feature_transfer.py", (
        r"^\| conv3 neurons \| \d+ \| {num} \| {num} \| \d+ \| ({num}|nan) \| {num} s \|$",
        r"^\| conv3/dict live features \| \d+ \| {num} \| {num} \| \d+ \| ({num}|nan) \| {num} s \|$",
    ), needs=(_fashion_mnist,)),
    Smoke("transformer.py", (
        r"^\| render step, \d+ units \| {num} ms \| {num} ms \| {num}× \(target ≤ 1.15×\) \|$",
        r"^\| examples, \d+ images \| {pos} images/s \| {pos} images/s \| {num}× \(target ≥ 0.9×\) \|$",
        r"^\| live grid \(server alone\), \S+ \| {pos} fps \| {pos} fps \| {num}× \|$",
        *([r"^\| render step, timm vit_tiny_patch16_224 \S+, \d+ units at 224 px, \d+ steps \| {num} ms \| {num} ms \| {num}× \(target ≤ 1.15×\) \|$"]
          if importlib.util.find_spec("timm") else []),
    ), needs=(_fashion_mnist,)),
    Smoke("atlas.py", (
        r"^atlas: {num} s wall \({num} s in the job\)",
        r"^  render +{num} s +raw fwd\+bwd +{num} s default layout → {num}×; {num} s channels-last → {num}×$",
        r"^  examples +{num} s +raw forward of the \d+ photos to \S+ {num} s → {num}×$",
        r"^  projections +{num} s +raw fwd\+bwd of \d+ passes {num} s → {num}×$",
        r"^  writing +{num} s +site {num} MiB in \d+ files$",
    )),
    Smoke("audio.py", (
        r"^collection: \d+ clips of 3 s in {num} s = {pos} clips/s overall; start-up {num} s, then {pos} clips/s",
        r"^training: {num} s/epoch on \d+ clips = {pos} clips/s",
        r"^  front end \(waveform → log-mel\) +{pos} clips/s$",
        r"^  waveform → factors +{pos} clips/s$",
        r"^examples: .*: {pos} clips/s; .*: {pos} clips/s; ratio of the bests {num}×, median ratio .* {num}×, ratio of CPU seconds {num}×",
    ), needs=(_music,)),
    Smoke("live.py", (
        r"^machine: two one-thread processes together run {num}× one alone",
        r"^server alone \(decode, forward, maps, encode\), \S+: {pos} fps; raw forward {pos} fps → ratio {num}$",
        r"^grid, default layer \S+: {pos} fps end to end; raw forward to \S+ {pos} fps → ratio {num}$",
        r"^grid \+ live projection \(guided\) of \S+:\d+: {pos} fps end to end; raw forward to \S+ {pos} fps → ratio {num}$",
    ), needs=(_chromium,)),
    Smoke("live_audio.py", (
        r"^raw front end \+ forward to conv3: {pos} windows/s; server alone .*: {pos} windows/s → ratio {num}$",
        r"^page end to end \(microphone → server → heat map\): {pos} windows/s",
    ), needs=(_chromium, lambda: _modules("playwright"), _music)),
    Smoke("start.py", (
        r"^\| python \+ import featurelens.cli.app \| {num} s \|$",
        r"^\| fashion-cnn conv3:0..15: first command \| {num} s \|$",
        r"^\| fashion-cnn conv3:0..15: second command \(cached figures\) \| {num} s \(target ≤ 3 s\) \|$",
    )),
    Smoke("ray_scaling.py", (
        r"^machine: two one-thread processes together run {num}× one alone",
        r"ray.init {num} s$",
        r"^examples \(.*\) ray-2: best {pos} images/s, median {pos}",
        r"^examples \(.*\) best: 1 worker / local = {num} \(target >= 0.85\); 2 workers / 1 worker = {num}",
        r"^render \(.*\) ray-2: best {pos} units/s, median {pos}",
        r"^render \(.*\) best: 1 worker / local = {num} \(target >= 0.85\); 2 workers / 1 worker = {num}",
    ), needs=(lambda: _modules("ray"),)),
]


def test_every_benchmark_has_a_smoke_run():
    scripts = {path.name for path in BENCHMARKS.glob("*.py") if not path.name.startswith("_")}
    assert scripts == {smoke.script for smoke in SMOKES}, "a benchmark without a smoke run here (or one run here that is gone)"


@pytest.mark.parametrize("smoke", SMOKES, ids=str)
def test_smoke_run(smoke: Smoke):
    for need in smoke.needs:
        if why := need():
            pytest.skip(why)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), str(BENCHMARKS), os.environ.get("PYTHONPATH")])),
               PYTHONUNBUFFERED="1")
    try:
        run = subprocess.run([sys.executable, str(BENCHMARKS / smoke.script), *smoke.args, "--smoke"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as late:
        so_far = "\n".join(text.decode(errors="replace") if isinstance(text, bytes) else text or "" for text in (late.stdout, late.stderr))
        pytest.fail(f"{smoke} --smoke ran past {TIMEOUT} s; its output so far:\n{so_far}")
    output = f"{run.stdout}\n--- stderr ---\n{run.stderr}"
    assert run.returncode == 0, f"{smoke} --smoke exited with {run.returncode}:\n{output}"
    for figure in smoke.figures:
        pattern = figure.format(num=NUM, signed=SIGNED, pos=POS)
        assert re.search(pattern, run.stdout, re.MULTILINE), f"{smoke} --smoke printed no line matching {figure!r}:\n{output}"
