"""Adam for the render loop: torch's own single-tensor update, without the compiler import on the first step.

Every `torch.optim` optimizer imports `torch._dynamo` on its first `step()` (0.75 s on a quiet core, 2 s on a busy
one): a third of the time a cached `render` command takes to start optimising. A render only needs plain Adam on a
few image tensors, so this applies the arithmetic of `torch.optim.Adam` (defaults, eager, one tensor at a time: the
path torch takes on the CPU) in the same order: the images are byte-for-byte those of `torch.optim.Adam`
(tests/rendering/test_adam.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    """`torch.optim.Adam(params, lr)` with its defaults (betas 0.9 and 0.999, eps 1e-8, no weight decay)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.steps = 0
        self.mean = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.square = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient (torch's order of operations, so its rounding)."""
        beta1, beta2 = self.betas
        self.steps += 1
        step = float(self.steps)
        correction1, correction2 = 1 - beta1 ** step, 1 - beta2 ** step
        for param, mean, square in zip(self.params, self.mean, self.square):
            if param.grad is None:
                continue
            mean.lerp_(param.grad, 1 - beta1)
            square.mul_(beta2).addcmul_(param.grad, param.grad, value=1 - beta2)
            denominator = (square.sqrt() / correction2 ** 0.5).add_(self.eps)
            param.addcdiv_(mean, denominator, value=-(self.lr / correction1))
