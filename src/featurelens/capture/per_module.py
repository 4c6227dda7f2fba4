"""Facts remembered per module (its sizes, its memory layout): computed once, dropped with the module."""

from __future__ import annotations

import weakref
from typing import Callable, TypeVar

from torch import nn

T = TypeVar("T")


def remembered(cache: "weakref.WeakKeyDictionary[nn.Module, T]", module: nn.Module, compute: Callable[[], T]) -> T:
    """`cache[module]`, made by `compute()` the first time; a module that cannot be weakly referenced is computed
    again each time."""
    if module in cache:
        return cache[module]
    value = compute()
    try:
        cache[module] = value
    except TypeError:
        pass
    return value
