"""Loops of forwards keep the memory they free: one call before the loop, so maps are not faulted in again each batch."""

from __future__ import annotations

import torch


def keep_freed_memory() -> None:
    """Free a 31 MiB block once, so that glibc's malloc keeps up to 62 MiB of freed memory for the next forward.

    glibc gives a freed heap top back to the system when it exceeds twice the largest mmapped block freed so far.
    fashion-cnn frees two 25 MiB maps (conv1, relu1 of 256 images) each forward: just over that bound, so every
    forward faulted 50 MiB back in (+35 ms on 45 ms) whenever nothing larger had been freed before — a benchmark's
    raw loop had (its 31 MiB of normalised images), the examples pass and the dictionary's row stream had not.
    Elsewhere (other allocators) this costs a malloc."""
    torch.empty(31 * 2**20, dtype=torch.uint8)  # allocated and freed at once, never touched
