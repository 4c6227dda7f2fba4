"""featurelens: see what each unit of a trained PyTorch network responds to.

One call shape for every technique — `render`, `examples`, `project`, `dream`, `overview`, `evolve`, `atlas`, `find`,
`map_activations`, `learn_dictionary` (not `dictionary`: that is the package of dictionary files,
`featurelens.dictionary`), and `invert.train` / `invert.decode` — each taking a model spec or loaded model, images as paths, PIL
images or tensors in [0, 1], units as one address or a list, and `device`, `progress`, `seed` /
`steps` where they apply; each returning a result with `.images`, `.summary()`, `.seconds`,
`.interrupted` and `.save(path)`. `samples(folder)` writes sample inputs as files (the README's
`cat.jpg`, `shirt.png`, `photos/`, `songs/`, `checkpoints/`). `progress`: by default a bar when someone watches (stderr a terminal, or a
Jupyter notebook) and silence elsewhere; False silences it, True always shows it, a function gets `(done, total)`.
`.save(folder)` replaces that verb's previous result in the folder as a whole; other files there are kept.
"""

from importlib.metadata import version

from featurelens import invert
from featurelens.activation_map import map_activations
from featurelens.atlas import AtlasSettings, AtlasStore, atlas
from featurelens.concepts import find
from featurelens.deepdream import dream
from featurelens.dictionary.api import DictionarySettings, learn_dictionary
from featurelens.errors import FeaturelensError
from featurelens.dataset_examples import examples
from featurelens.evolution import evolve
from featurelens.images import as_images
from featurelens.models import LoadedModel, list_models, load_model
from featurelens.overviews import overview
from featurelens.projection import project
from featurelens.rendering import RenderSettings, render
from featurelens.sample_inputs import samples
from featurelens.units import parse_units

__all__ = [
    "AtlasSettings", "AtlasStore", "DictionarySettings", "FeaturelensError", "LoadedModel", "RenderSettings", "as_images", "atlas", "dream", "evolve", "examples", "find", "invert",
    "learn_dictionary", "list_models", "load_model", "map_activations",
    "overview", "parse_units", "project", "render", "samples",
]
__version__ = version("featurelens")  # one number: pyproject.toml's
