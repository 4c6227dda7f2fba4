"""The models that ship with featurelens, registered by spec name."""

from featurelens.models.efficientnet_lite import VARIANTS, build_efficientnet_lite
from featurelens.models.loaded import LoadedModel, imagenet_class_names
from featurelens.models.registry import register_model

# The TF-Lite models were trained on (x_uint8 - 127) / 128; in [0, 1] units that is (x - 127/255) / (128/255).
_LITE_MEAN = (127 / 255,) * 3
_LITE_STD = (128 / 255,) * 3


def _lite(name: str) -> LoadedModel:
    module = build_efficientnet_lite(name)
    size = VARIANTS[name].resolution
    return LoadedModel(module, name, size, 3, _LITE_MEAN, _LITE_STD, imagenet_class_names(), min_size=32)


for _name in VARIANTS:
    register_model(_name)(lambda name=_name: _lite(name))

from featurelens.models.fashion_cnn import loaded_fashion_cnn  # noqa: E402

register_model("fashion-cnn")(loaded_fashion_cnn)
