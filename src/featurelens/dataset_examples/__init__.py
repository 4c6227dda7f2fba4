"""Dataset examples: the inputs that most and least activate each channel, with the crop each unit saw."""

from featurelens.dataset_examples.api import ExamplesPlan, ExamplesSettings, examples, plan_examples
from featurelens.dataset_examples.checkpoint import load_checkpoint, save_checkpoint
from featurelens.dataset_examples.result import ExamplesResult, LayerExamples, RankedExamples
from featurelens.dataset_examples.rows import Example, ExampleKey
from featurelens.dataset_examples.run import collect_examples
from featurelens.dataset_examples.state import ExamplesState

__all__ = [
    "Example", "ExampleKey", "ExamplesPlan", "ExamplesResult", "ExamplesSettings", "ExamplesState", "LayerExamples",
    "RankedExamples", "collect_examples", "examples", "load_checkpoint", "plan_examples", "save_checkpoint",
]
