"""Images in and out, one convention for every technique.

In: `as_images` turns what a user has — a path, a PIL image, a uint8 H×W×C picture, a [C, H, W]
or [B, C, H, W] tensor in [0, 1], or a list of these — into one float [B, C, H, W] batch in [0, 1].
Files and pictures are converted to the model's channels (greyscale ↔ RGB); tensors are data and
must already have the model's channels. Out: `to_pixels` makes uint8 [B, H, W, C] arrays, the
`.images` of every result.
"""

from __future__ import annotations

import re
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from featurelens.errors import FeaturelensError, error_reason

ImageInput = Union[str, Path, Image.Image, np.ndarray, torch.Tensor, Sequence]
LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601, the weights PIL uses for "L"
_RANGE_SLACK = 1e-3
MAX_FILE_PIXELS = 40_000_000  # an image file a user names or a data folder holds: a 40 MP photo (120 MB as RGB)
WEB_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # the decoders tried on data files and on bytes from a page
_OPENING = threading.Lock()  # warnings.catch_warnings changes process-wide state: one thread at a time


def pil_to_tensor(image: Image.Image, channels: int, size: int | None = None) -> torch.Tensor:
    """A PIL image as [C, H, W] floats in [0, 1]: EXIF rotation applied, 16-bit scaled, transparency on white,
    converted to `channels`; with `size`, its centre square at size × size."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit and float greyscale: scale to 8 bits
        array = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, "white")  # transparent pixels read as white paper
        image = Image.alpha_composite(background, image.convert("RGBA"))
    image = image.convert("L" if channels == 1 else "RGB")
    if size is not None:
        image = center_square(image, size)
    array = torch.from_numpy(np.array(image, dtype=np.uint8))
    array = array[None] if channels == 1 else array.permute(2, 0, 1)
    return array.float().div_(255)


def center_square(image: Image.Image, size: int) -> Image.Image:
    """Centre crop to a square, then resize to size × size (Pillow's bilinear, antialiased when shrinking)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return image if side == size else image.resize((size, size), Image.BILINEAR)


def open_image(path: str | Path) -> Image.Image:
    """A loaded PIL image (its first frame), or a one-line error naming the file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise FeaturelensError(f"image {str(path)!r} not found: give the path of a PNG or JPEG file")
    try:
        with decoded_image(file, f"image {str(path)!r}", MAX_FILE_PIXELS, "give a smaller image") as image:
            return image.copy()
    except FeaturelensError:
        raise
    except Exception as err:  # whatever the decoder says about a broken file, in one line
        raise FeaturelensError(f"cannot read image {str(path)!r} ({error_reason(err, file)}): give a PNG or JPEG file") from None


@contextmanager
def decoded_image(file: Path | BinaryIO, what: str, limit: int, fix: str, formats: Sequence[str] | None = None,
                  draft: tuple[str, tuple[int, int]] | None = None) -> Iterator[Image.Image]:
    """The first frame of an image file (a path or a file object), decoded once its size, read from the header,
    is at most `limit` pixels: a small compressed file cannot decode to gigabytes. `what` names the file in the
    error ("the upload"), `fix` says what to do; `formats` limits the decoders tried; `draft` (mode, size) lets
    a JPEG decode at a reduced scale, and the reduced size is the one checked. PIL's errors other than the size
    propagate as they are (see `error_reason`)."""
    with _OPENING, warnings.catch_warnings():
        # PIL warns between its limit and twice that, and raises above: the check below is stricter and names the size
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(file, formats=formats)
        except Image.DecompressionBombError as err:
            pixels = re.search(r"\((\d+) pixels\)", str(err))
            size = f"{_millions(int(pixels[1]))} pixels" if pixels else "too many pixels"
            raise FeaturelensError(f"{what} has {size}, more than the {_millions(limit)} allowed: {fix}") from None
    with image:
        if draft is not None and image.format == "JPEG":
            image.draft(*draft)
        check_pixels(image, what, limit, fix)
        image.load()  # the first frame only: later frames of an animation or pages of a TIFF are never decoded
        yield image


def check_pixels(image: Image.Image, what: str, limit: int, fix: str) -> None:
    """A one-line error if `image` (opened, not yet loaded) has more than `limit` pixels."""
    width, height = image.size
    if width * height > limit:
        raise FeaturelensError(f"{what} is {width} × {height} pixels ({_millions(width * height)}), more than the "
                               f"{_millions(limit)} allowed: {fix}")


def _millions(pixels: int) -> str:
    return f"{pixels / 1e6:.3g} M"


def load_image(path: str | Path, channels: int, size: int | None = None) -> torch.Tensor:
    """An image file as [1, channels, H, W] in [0, 1]; `size` takes the centre square at size × size."""
    return pil_to_tensor(open_image(path), channels, size)[None]


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """[B, c, H, W] → [B, channels, H, W]: RGB to grey by luma, grey to RGB by repeating, alpha dropped."""
    have = images.shape[1]
    if have == channels:
        return images
    if channels == 1:
        return (images[:, :3] * LUMA.to(images).view(1, 3, 1, 1)).sum(1, keepdim=True) if have >= 3 else images[:, :1]
    return images[:, :1].expand(-1, channels, -1, -1) if have in (1, 2) else images[:, :channels]


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop [B, C, H, W] to a square and resize to size × size (bilinear, antialiased)."""
    height, width = images.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    images = images[..., top : top + side, left : left + side]
    if side == size:
        return images.contiguous()
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=side > size).clamp_(0, 1)


def as_images(
    images: ImageInput,
    channels: int,
    size: int | None = None,
    *,
    exact_size: bool = False,
    min_size: int = 1,
    what: str = "images",
) -> torch.Tensor:
    """Any supported image input as a float [B, channels, H, W] batch in [0, 1] on the CPU.

    Files, PIL images and uint8 H×W×C pictures are converted to `channels` and, when `size` is
    given, to their centre square at size × size. Tensors and float arrays ([C, H, W] or
    [B, C, H, W] in [0, 1]) are taken as they are: their channels must match, their side must be
    `size` when `exact_size`, and at least `min_size`. Mistakes are one-line errors.
    """
    if isinstance(images, (list, tuple)):
        if not images:
            raise FeaturelensError(f"no {what} given: pass a path, a PIL image or a tensor")
        parts = [as_images(item, channels, size, exact_size=exact_size, min_size=min_size, what=what) for item in images]
        sizes = {tuple(p.shape[-2:]) for p in parts}
        if len(sizes) > 1:
            raise FeaturelensError(f"{what} differ in size ({', '.join('×'.join(map(str, s)) for s in sorted(sizes))}): give images of one size or one at a time")
        return torch.cat(parts)
    if isinstance(images, (str, Path)):
        batch = load_image(images, channels, size)
    elif isinstance(images, Image.Image):
        batch = pil_to_tensor(images, channels, size)[None]
    elif isinstance(images, np.ndarray) and images.dtype == np.uint8:
        batch = _pictures(images, channels, size)
    elif isinstance(images, (torch.Tensor, np.ndarray)):
        batch = _tensor_batch(torch.as_tensor(images), channels, size if exact_size else None, what)
    else:
        raise FeaturelensError(
            f"cannot read {what} from a {type(images).__name__}: give a path, a PIL image, a uint8 H×W×C array or a [C, H, W] / [B, C, H, W] tensor"
        )
    if min(batch.shape[-2:]) < min_size:
        height, width = batch.shape[-2:]
        raise FeaturelensError(f"{what} are {height}×{width}, below the minimum input size {min_size}: give larger images")
    return batch


def _pictures(array: np.ndarray, channels: int, size: int | None) -> torch.Tensor:
    """uint8 pictures: [H, W], [H, W, C] or [N, H, W, C] (the layout of `.images`), read like image files."""
    if array.ndim == 4:
        return torch.cat([_pictures(one, channels, size) for one in array])
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise FeaturelensError(f"a uint8 picture of shape {array.shape} cannot be read: give H×W, H×W×3 or N×H×W×3")
    return pil_to_tensor(Image.fromarray(np.ascontiguousarray(array)), channels, size)[None]


def _tensor_batch(tensor: torch.Tensor, channels: int, size: int | None, what: str) -> torch.Tensor:
    tensor = tensor.detach()
    shape = tuple(tensor.shape)
    if tensor.dim() == 3:
        tensor = tensor[None]
    if tensor.dim() != 4 or tensor.shape[1] != channels:
        wanted = f"[{channels}, H, W] or [B, {channels}, H, W]"
        raise FeaturelensError(f"{what} of shape {list(shape)} do not fit a model with {channels} input channel(s): give {wanted} in [0, 1]")
    if size is not None and tuple(tensor.shape[-2:]) != (size, size):
        raise FeaturelensError(f"{what} of shape {list(shape)} have the wrong size: this needs {size}×{size} (give a path to resize a file)")
    tensor = tensor.float().div(255) if tensor.dtype == torch.uint8 else tensor.float()
    if tensor.numel():
        low, high = float(tensor.min()), float(tensor.max())
        if low < -_RANGE_SLACK or high > 1 + _RANGE_SLACK:
            raise FeaturelensError(f"{what} range from {low:.3g} to {high:.3g}: give pixels in [0, 1] (before normalisation, not 0–255)")
    return tensor.cpu().clamp(0, 1).contiguous()


def to_pixels(images: torch.Tensor) -> np.ndarray:
    """Float [B, C, H, W] in [0, 1] → uint8 [B, H, W, C], ready to show."""
    return (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
