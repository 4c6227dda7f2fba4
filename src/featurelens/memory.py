"""Measuring what a job holds at once: bytes of live tensor storage, from allocation until freed.

Used by the memory tests and benchmarks (tiled DeepDream, batched projections): a dispatch mode sees
every tensor an operation creates, so the figure is exact for torch memory and needs no profiler.
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map_only


class LiveTensorBytes(TorchDispatchMode):
    """Bytes held by tensors created under it. `peak`: the maximum over the whole time; `window_peak`:
    the maximum since the last `open_window()`, which returns what was live then."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self.window_peak = 0
        self._sizes: dict[int, int] = {}

    def open_window(self) -> int:
        self.window_peak = self.live
        return self.live

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tree_map_only(torch.Tensor, self._track, out)
        return out

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in self._sizes or storage.nbytes() == 0:
            return
        self._sizes[key] = storage.nbytes()
        self.live += storage.nbytes()
        self.peak = max(self.peak, self.live)
        self.window_peak = max(self.window_peak, self.live)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(key)
