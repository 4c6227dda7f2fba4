"""Loops of forwards keep the memory they free, so each batch does not fault its maps back in from the system.

glibc's malloc serves a block above its mmap threshold (at most 32 MiB while it adapts by itself) with a fresh
mapping, and gives a freed heap top above its trim threshold back to the system; every allocation after that touches
new pages. A render step of EfficientNet-Lite0 frees and allocates maps of 10–80 MiB, so with glibc's own thresholds
a 16-unit render ran 30–45 % slower than with these (one thread: 64 steps at 128 px 10.7 → 7.0 s, 16 steps at 224 px
11.8 → 7.7 s), and how much slower depended on what the process had freed before (a render after Lucent's ran at full
speed). The trim threshold does most of it at 128 px; at 224 px the maps pass 32 MiB, and serving them from the heap
too took the 16 steps from 8.6 to 7.7 s (one 224 px command 25 % faster). fashion-cnn's small maps do not care
(raw forward and examples pass within 2 % either way, alternated).
"""

from __future__ import annotations

import ctypes
import os

MMAP_THRESHOLD = 256 * 2**20  # blocks up to this come from the heap (glibc adapts only up to 32 MiB by itself)
TRIM_THRESHOLD = 512 * 2**20  # freed memory at the heap top kept for the next batch, up to this much
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_tuned = False


def keep_freed_memory() -> None:
    """Set glibc's thresholds once per process (a no-op elsewhere: macOS, Windows, musl). The process then keeps up to
    512 MiB of freed memory for its next forwards instead of returning it to the system; nothing computed changes."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    if os.name != "posix":
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
