"""Checking where results will be written, before any work is done."""

from __future__ import annotations

import os
from pathlib import Path

from featurelens.errors import FeaturelensError


def _writable_ancestor(path: Path) -> Path:
    """The nearest existing folder above (or at) `path`, which must be writable for `path` to be made."""
    current = path.expanduser().absolute()
    while not current.exists():
        current = current.parent
    if not current.is_dir():
        raise FeaturelensError(f"cannot write under {str(current)!r}: it is a file, not a folder; choose another {{parameter}}", parameter="out")
    if not os.access(current, os.W_OK):
        raise FeaturelensError(f"cannot write in {str(current)!r}: no permission; choose another {{parameter}}", parameter="out")
    return current


def check_output_folder(path: Path) -> Path:
    """The folder `path` exists or can be made, and can be written to."""
    if path.exists() and not path.is_dir():
        raise FeaturelensError(f"{str(path)!r} is a file: {{parameter}} needs a folder", parameter="out")
    _writable_ancestor(path)
    return path


def check_output_file(path: Path, suffixes: tuple[str, ...]) -> Path:
    """The file `path` has one of `suffixes` and its folder can be made and written to."""
    if path.suffix.lower() not in suffixes:
        raise FeaturelensError(f"cannot write {str(path)!r}: end {{parameter}} with {' or '.join(suffixes)}", parameter="out")
    if path.is_dir():
        raise FeaturelensError(f"{str(path)!r} is a folder: {{parameter}} needs a file name ending in {' or '.join(suffixes)}", parameter="out")
    _writable_ancestor(path.parent)
    return path


def check_chosen_file(path: Path, force: bool) -> Path:
    """A file whose name the command chose (the user gave no --out): never replaced silently, only with --force."""
    if path.exists() and not force:
        raise FeaturelensError(f"{str(path)!r} exists (an earlier run?): add --force to replace it, or name another file with {{parameter}}",
                               parameter="out")
    return path
