"""Image files and bytes are decoded only once their header says they fit: a small compressed file that would
decode to gigabytes (a decompression bomb) is a one-line error naming its size, and errors are in words."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from featurelens.data.sources import load_image_file
from featurelens.errors import FeaturelensError, error_reason
from featurelens.images import MAX_FILE_PIXELS, open_image
from featurelens.live.frames import MAX_SENT_PIXELS, decode_frame, open_image_bytes


def bomb(side: int = 13000) -> bytes:
    """A one-colour 1-bit PNG of side × side: ~20 kB that would decode to side² bytes and more."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bombs") / "bomb.png"
    path.write_bytes(bomb())
    return path


@pytest.fixture
def nothing_decoded(monkeypatch):
    """Any pixel decoding fails the test: a bomb must be refused from its header alone."""
    def load(self):
        raise AssertionError(f"{self.size} pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_a_bomb_is_small_and_past_pil_own_warning() -> None:
    data = bomb()
    assert len(data) < 100_000 and 13000 * 13000 > Image.MAX_IMAGE_PIXELS  # PIL alone would only warn, then decode
    assert MAX_SENT_PIXELS < MAX_FILE_PIXELS < Image.MAX_IMAGE_PIXELS


def test_a_bomb_file_is_refused_from_its_header(bomb_png, nothing_decoded, recwarn) -> None:
    with pytest.raises(FeaturelensError) as raised:
        open_image(bomb_png)
    message = str(raised.value)
    assert message == (f"image {str(bomb_png)!r} is 13000 × 13000 pixels (169 M), more than the 40 M allowed: "
                       "give a smaller image")
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]  # nothing printed besides


@pytest.mark.parametrize("what", ["frame", "upload"])
def test_bomb_bytes_are_refused_from_their_header(nothing_decoded, what) -> None:
    with pytest.raises(FeaturelensError, match=f"^the {what} is 13000 × 13000 pixels \\(169 M\\), more than the 16.8 M "
                                               "allowed: send a smaller image$"):
        open_image_bytes(bomb(), what)
    with pytest.raises(FeaturelensError, match="^the frame is 4097 × 4096 pixels"):  # just over the page's limit
        buffer = io.BytesIO()
        Image.new("1", (4097, 4096)).save(buffer, format="PNG")
        decode_frame(buffer.getvalue(), 3, 224)


def test_beyond_twice_pil_limit_pil_refuses_and_the_message_still_names_the_size(tmp_path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(bomb(20000))
    with pytest.raises(FeaturelensError, match=r"^image '.*huge.png' has 400 M pixels, more than the 40 M allowed"):
        open_image(path)
    with pytest.raises(FeaturelensError, match=r"^the upload has 400 M pixels, more than the 16.8 M allowed"):
        open_image_bytes(path.read_bytes(), "upload")


def test_a_bomb_in_a_data_folder_is_skipped_with_its_size(bomb_png, nothing_decoded) -> None:
    skipped = load_image_file(bomb_png, "bomb.png", 1, 28)
    assert skipped.item == "bomb.png" and "13000 × 13000 pixels (169 M), more than the 40 M allowed" in skipped.reason
    assert "0x" not in load_image_file(io.BytesIO(b"junk"), "junk.png", 1, 28).reason


def test_a_data_file_is_read_by_the_web_formats_decoders_only(tmp_path) -> None:
    Image.new("L", (40, 30), 200).save(tmp_path / "named.jpg", format="PNG")  # misnamed files are common: still read
    assert float(load_image_file(tmp_path / "named.jpg", "named.jpg", 1, 28).mean()) == pytest.approx(200 / 255)
    Image.new("L", (40, 30), 200).save(tmp_path / "tiff.png", format="TIFF")  # a decoder a data folder has no use for
    assert load_image_file(tmp_path / "tiff.png", "tiff.png", 1, 28).reason == "UnidentifiedImageError: cannot identify image file"


def test_images_within_the_limits_still_load(tmp_path) -> None:
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "photo.png")
    assert np.array_equal(np.asarray(open_image(tmp_path / "photo.png")), picture)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="WEBP", lossless=True)
    assert np.array_equal(np.asarray(open_image_bytes(buffer.getvalue()).convert("RGB")), picture)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a large photo within the limit, past nothing PIL warns about
        Image.new("RGB", (6000, 4000), "red").save(tmp_path / "big.jpg", quality=50)
        assert open_image(tmp_path / "big.jpg").size == (6000, 4000)
        big = load_image_file(tmp_path / "big.jpg", "big.jpg", 3, 224)  # a JPEG decodes at a reduced scale
        assert big.shape == (3, 224, 224) and float(big[0].mean()) > 0.9


@pytest.mark.parametrize("format", ["GIF", "PNG", "WEBP", "TIFF"])
def test_a_many_frame_image_gives_its_first_frame(tmp_path, format) -> None:
    frames = [Image.new("RGB", (50, 40), colour) for colour in ("red", "blue", "lime")]
    path = tmp_path / f"moving.{format.lower()}"
    frames[0].save(path, format=format, save_all=True, append_images=frames[1:], **({"lossless": True} if format == "WEBP" else {}))
    with Image.open(path) as check:
        assert getattr(check, "n_frames", 1) == 3  # really three frames (APNG for PNG, pages for TIFF)
    first = open_image(path)
    assert first.size == (50, 40) and first.convert("RGB").getpixel((25, 20)) == (255, 0, 0)
    if format != "TIFF":  # the page sends what a browser shows: TIFF is not one of them
        assert open_image_bytes(path.read_bytes()).convert("RGB").getpixel((25, 20)) == (255, 0, 0)


def test_errors_are_words_without_object_reprs(tmp_path) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(png, format="PNG")
    tiff = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiff, format="TIFF")
    cut = png.getvalue()[:60]  # a header and a cut stream
    for data in (b"not an image at all", b"", cut, tiff.getvalue()):
        with pytest.raises(FeaturelensError) as raised:
            open_image_bytes(data, "upload")
        message = str(raised.value)
        assert "<_io." not in message and "0x" not in message and "\n" not in message, message
        assert message.startswith("the upload is not an image"), message
    with pytest.raises(FeaturelensError, match=r"^the upload is not an image in a format this server reads \(JPEG, PNG, WebP, GIF, BMP\)$"):
        open_image_bytes(b"not an image at all", "upload")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(FeaturelensError) as raised:
        open_image(tmp_path / "notes.png")
    assert "cannot read image" in str(raised.value) and "0x" not in str(raised.value)
    assert error_reason(OSError("cannot identify image file <_io.BytesIO object at 0x7f3a2b1c0d90>")) == "cannot identify image file"


def test_the_cli_refuses_a_bomb_in_one_line(featurelens_cli, bomb_png, tmp_path) -> None:
    done = featurelens_cli("project", str(bomb_png), "conv3:5", "--model", "fashion-cnn", "--out", str(tmp_path / "p.png"),
                           "--device", "cpu", timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "is 13000 × 13000 pixels (169 M), more than the 40 M allowed: give a smaller image" in done.stderr
    assert not (tmp_path / "p.png").exists()
