"""Sparse dictionaries over a layer's features: learned, saved, and read as units (`LAYER/NAME:f`)."""

from featurelens.dictionary.attach import attach_dictionaries, attach_dictionary, detach_dictionary
from featurelens.dictionary.file import Dictionary, load_dictionary

__all__ = ["Dictionary", "attach_dictionaries", "attach_dictionary", "detach_dictionary", "load_dictionary"]
