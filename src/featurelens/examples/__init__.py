"""Dataset examples: the inputs that most and least activate each channel, with the crop each unit saw."""

from featurelens.examples.receptive_field import ReceptiveField, receptive_fields
from featurelens.examples.result import Example, ExamplesResult, LayerExamples, RankedExamples
from featurelens.examples.run import top_examples
from featurelens.examples.sources import ImageSource, Skipped, open_source
from featurelens.examples.state import ExamplesState

__all__ = [
    "Example", "ExamplesResult", "ExamplesState", "ImageSource", "LayerExamples", "RankedExamples",
    "ReceptiveField", "Skipped", "open_source", "receptive_fields", "top_examples",
]
