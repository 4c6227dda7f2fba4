"""Make the README's gallery from real runs: small compressed WebP pictures in docs/gallery/.

    python scripts/gallery.py              # the checked-in gallery (a few minutes on 2 CPU cores)
    python scripts/gallery.py --quick --out /tmp/g   # tiny settings, the same pictures (what tests/test_gallery.py runs)

Each picture comes from featurelens's own verbs and pages: the live page (Chromium showing the server, fed the
bundled cat photo), an atlas unit page (fashion-cnn), a channel's card (its max / min renders beside its top-9
dataset examples and their projections), a DeepDream of a bundled photo (EfficientNet-Lite0) and an audio unit's
grown spectrogram (music-cnn). A picture whose requirement is missing (Chromium, Playwright) is skipped with a line.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import featurelens as fl  # noqa: E402
from featurelens.photos import bundled_photos  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
PICTURES = ("live", "atlas", "channel", "dream", "audio")  # docs/gallery/<name>.webp, in the README's order
WIDTH = 760  # pixels across: the README's column
FASHION_UNIT = ("conv3", 2)
RENDER_SIDE = 56  # fashion-cnn renders at twice its 28 px input: finer strokes than at 28


class Skip(Exception):
    """A picture whose requirement is missing: said in one line, the others still made."""


def settings(quick: bool) -> dict:
    if quick:
        return {"steps": 8, "limit": 300, "dream_steps": 2, "octaves": 2, "audio_steps": 8, "atlas_steps": 8}
    return {"steps": 256, "limit": 5000, "dream_steps": 10, "octaves": 4, "audio_steps": 256, "atlas_steps": 128}


def chelsea(folder: Path) -> Path:
    path = folder / "cat.jpg"
    bundled_photos()[1].save(path, quality=92)  # chelsea, the bundled cat
    return path


def browser():
    """A headless Chromium page through Playwright (Debian's Chromium, never a downloaded one), or Skip."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise Skip("Playwright is not installed (pip install playwright)") from None
    if not Path(CHROMIUM).is_file():
        raise Skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    driver = sync_playwright().start()
    return driver, driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def screenshot(url: str, work: Path, wait_for: str | None = None, viewport=(1280, 860), action=None) -> Image.Image:
    """The browser's view of `url` (after `action(page)`, once the `wait_for` predicate holds)."""
    driver, chromium = browser()
    try:
        page = chromium.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.goto(url, wait_until="load")
        if action:
            action(page)
        if wait_for:
            page.wait_for_function(wait_for, timeout=60_000)
        page.wait_for_timeout(500)
        path = work / "shot.png"
        page.screenshot(path=str(path))
        return Image.open(path).convert("RGB")
    finally:
        chromium.close()
        driver.stop()


def live_page(s: dict, work: Path) -> Image.Image:
    """The live page on EfficientNet-Lite0, fed the cat photo: every channel of a layer, the top classes, why."""
    import uvicorn

    from featurelens.server import create_app
    from featurelens.server.serve import UVICORN_OPTIONS

    token = secrets.token_urlsafe(16)
    app = create_app(fl.load_model("efficientnet-lite0"), data="photos", atlas=work / "live-atlas", token=token)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, ws_ping_interval=None,
                                           **UVICORN_OPTIONS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    cat = chelsea(work)
    try:
        return screenshot(f"http://127.0.0.1:{port}/?token={token}", work,
                          "() => document.querySelector('#classes li') && document.getElementById('why-class')"
                          " && document.getElementById('why-class').textContent.length > 0",
                          action=lambda page: page.set_input_files("#source-upload", str(cat)))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def atlas_page(s: dict, work: Path) -> Image.Image:
    """A unit's page of a small fashion-cnn atlas: its render, examples, projections and scores."""
    from featurelens.atlas.files import unit_page_path

    layer = FASHION_UNIT[0]
    folder = work / "atlas"
    fl.atlas("fashion-cnn", "fashion-mnist:test", [layer], units=1, steps=s["atlas_steps"], limit=s["limit"], out=folder)
    return screenshot((folder / unit_page_path(layer, 0)).as_uri(), work, viewport=(1100, 1000))


def tile(image: np.ndarray | Image.Image, side: int) -> Image.Image:
    picture = image if isinstance(image, Image.Image) else Image.fromarray(_uint8(image))
    return picture.convert("RGB").resize((side, side), Image.NEAREST if picture.width < side else Image.LANCZOS)


def _uint8(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array


def grid(pictures: list[Image.Image], columns: int, gap: int = 2) -> Image.Image:
    side = pictures[0].width
    rows = -(-len(pictures) // columns)
    sheet = Image.new("RGB", (columns * side + (columns - 1) * gap, rows * side + (rows - 1) * gap), "white")
    for n, picture in enumerate(pictures):
        sheet.paste(picture, ((n % columns) * (side + gap), (n // columns) * (side + gap)))
    return sheet


def channel_card(s: dict, work: Path) -> Image.Image:
    """One fashion-cnn channel: the image grown to maximize it and to minimize it, its top-9 test images (the part
    the unit sees) and their deconvnet projections."""
    layer, channel = FASHION_UNIT
    unit = f"{layer}:{channel}"
    high = fl.render("fashion-cnn", unit, steps=s["steps"], seed=1, size=RENDER_SIDE).images[0]
    low = fl.render("fashion-cnn", f"-{unit}", steps=s["steps"], seed=1, size=RENDER_SIDE).images[0]
    examples = fl.examples("fashion-cnn", "fashion-mnist:test", layer, k=9, limit=s["limit"], project="deconvnet")
    folder = examples.save(work / "examples").parent
    crops = [folder / f"crops/{layer}/c{channel:04d}-max{rank:02d}.png" for rank in range(1, 10)]
    crops = [path if path.is_file() else None for path in crops]
    rows = [row for row in examples.examples() if row.layer == layer and row.channel == channel and row.kind == "max"]
    inputs = [folder / f"inputs/{row.index:07d}.png" for row in sorted(rows, key=lambda r: r.rank)]
    pictures = [Image.open(crop or whole) for crop, whole in zip(crops, inputs)]
    projections = sorted((folder / "projections" / layer).glob(f"c{channel:04d}-max*.png"))
    side = 232
    panels = [("maximize", tile(high, side)), ("minimize", tile(low, side)),
              ("top 9 test images", grid([tile(p, 76) for p in pictures], 3)),
              ("their projections", grid([tile(Image.open(p), 76) for p in projections[:9]], 3))]
    return labelled(panels, f"fashion-cnn {unit}")


def labelled(panels: list[tuple[str, Image.Image]], title: str) -> Image.Image:
    gap, top = 12, 40
    width = sum(p.width for _, p in panels) + gap * (len(panels) + 1)
    height = max(p.height for _, p in panels) + top + gap
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((gap, 2), title, fill="black", font=font(15))
    x = gap
    for caption, picture in panels:
        draw.text((x, 21), caption, fill="#444", font=font(13))
        sheet.paste(picture, (x, top))
        x += picture.width + gap
    return sheet


def font(size: int):
    """DejaVu Sans where Debian has it (arrows and all), else Pillow's own."""
    path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    return ImageFont.truetype(str(path), size) if path.is_file() else ImageFont.load_default()


def deepdream(s: dict, work: Path) -> Image.Image:
    """The cat photo dreamt by EfficientNet-Lite0's `_blocks.8`, beside the photo."""
    cat = chelsea(work)
    result = fl.dream("efficientnet-lite0", str(cat), "_blocks.8", octaves=s["octaves"], steps=s["dream_steps"])
    dreamt = Image.fromarray(_uint8(result.images[0]))
    photo = Image.open(cat).convert("RGB").resize(dreamt.size)
    return labelled([("photo", photo), ("DeepDream of _blocks.8", dreamt)], "efficientnet-lite0")


def audio_unit(s: dict, work: Path) -> Image.Image:
    """A music-cnn unit's sound: the log-mel spectrogram grown to maximize it (low frequencies at the bottom)."""
    result = fl.render("music-cnn", "conv3:5", steps=s["audio_steps"], seed=1)
    picture = Image.fromarray(result.units[0].image).convert("RGB").resize((700, 220), Image.NEAREST)
    return labelled([("log-mel spectrogram grown to maximize the unit (time →, pitch ↑)", picture)], "music-cnn conv3:5")


MAKERS = {"live": live_page, "atlas": atlas_page, "channel": channel_card, "dream": deepdream, "audio": audio_unit}


def save_small(picture: Image.Image, path: Path) -> int:
    """WebP at the README's width (never enlarged), quality 72: tens of KB a picture."""
    if picture.width > WIDTH:
        picture = picture.resize((WIDTH, round(picture.height * WIDTH / picture.width)), Image.LANCZOS)
    picture.save(path, "WEBP", quality=72, method=6)
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery", help="folder of the pictures")
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds, not minutes): for the test")
    parser.add_argument("--only", nargs="*", choices=PICTURES, help="make only these pictures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    s = settings(args.quick)
    made = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or PICTURES:
            start = time.perf_counter()
            work = Path(tmp) / name
            work.mkdir()
            try:
                size = save_small(MAKERS[name](s, work), args.out / f"{name}.webp")
            except Skip as reason:
                print(f"{name}: skipped ({reason})")
                continue
            made += 1
            print(f"{name}.webp: {size / 1024:.0f} KB in {time.perf_counter() - start:.1f} s")
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
