"""Replace the backward rule of every rectifier for the length of one forward pass.

A deconvnet (Zeiler & Fergus 2014) and guided backprop (Springenberg et al. 2015) are the network's
ordinary backward pass with only the rectifiers' backward changed: the backward of a convolution is
the transposed convolution, the backward of max-pooling is unpooling with the forward's switches, the
backward of padding is a crop. `rectifier_backward(method)` intercepts rectifier calls however they
are written (nn.ReLU/ReLU6/Hardtanh/Threshold modules, reused or in-place, F.relu, torch.relu_,
x.relu(), F.relu6, F.hardtanh(x, 0, 6), clamp(min=0[, max]), threshold(x, 0, 0)) with a
TorchFunctionMode and routes them through `_Rectify`: forward is the original call, backward is

    deconvnet   relu(grad)                        rectify the signal; the forward input is not looked at
    guided      relu(grad) * (0 < x < upper)      gradient masked by forward activity, then rectified
    gradient    no override                       the plain gradient

Bounded rectifiers (ReLU6 = clamp(x, 0, 6)): guided masks with the true active range 0 < x < 6, the
range where the unit passes signal forward; deconvnet uses relu(grad) and ignores the upper bound as it
ignores the lower one, since the deconvnet rule never consults the forward input.
Smooth activations (GELU, SiLU: transformers have no rectifier) get guided backprop's rule generalised,
`relu(grad) * f'(x)`: only positive signal goes back, weighted by the activation's slope (for ReLU, the slope is
the 0/1 mask, so this is the same rule). A deconvnet has no such counterpart: its rule ignores the forward input,
so without rectifiers it is the plain gradient; `backproject` says so instead of returning it under that name.
Not intercepted: TorchScript code (it bypasses Python dispatch, so `backproject` refuses it for these
methods) and leaky ReLU, which keeps its ordinary gradient.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from featurelens.errors import FeaturelensError

METHODS = ("deconvnet", "guided", "gradient")


def check_method(method: str) -> str:
    """The method name, or an error listing the valid ones."""
    if method not in METHODS:
        raise FeaturelensError(f"unknown projection method {method!r}: use {', '.join(METHODS)}")
    return method


def _is_zero(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def _positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


# Each returns the rectifier's upper bound (inf for ReLU), or None when the call is not a rectifier.
def _relu(a: dict) -> float:
    return math.inf


def _relu6(a: dict) -> float:
    return 6.0


def _hardtanh(a: dict) -> float | None:
    return float(a["max_val"]) if _is_zero(a["min_val"]) and _positive_number(a["max_val"]) else None


def _threshold(a: dict) -> float | None:
    return math.inf if _is_zero(a["threshold"]) and _is_zero(a["value"]) else None


def _clamp(a: dict) -> float | None:
    upper = a.get("max")
    if not _is_zero(a.get("min")) or not (upper is None or _positive_number(upper)):
        return None
    return math.inf if upper is None else float(upper)


@dataclass(frozen=True)
class _Signature:
    """How to read one rectifier function's arguments: parameter names (tensor first), defaults, bound rule."""

    names: tuple[str, ...]
    defaults: tuple[tuple[str, Any], ...]
    upper: Callable[[dict], float | None]
    inplace: bool | None  # None: read from the `inplace` argument

    def match(self, args: tuple, kwargs: dict) -> tuple[torch.Tensor, float, bool] | None:
        bound = dict(self.defaults)
        bound.update(zip(self.names, args))
        bound.update(kwargs)
        tensor = bound.get("input", bound.get("self"))
        upper = self.upper(bound)
        if not isinstance(tensor, torch.Tensor) or upper is None:
            return None
        inplace = bool(bound.get("inplace", False)) if self.inplace is None else self.inplace
        return tensor, upper, inplace


def _signatures() -> dict[Callable, _Signature]:
    """Every rectifier entry point (module forwards go through the F.* ones) and how to read its arguments."""
    signatures: dict[Callable, _Signature] = {}

    def add(owner: object, names: str, signature: _Signature) -> None:
        for name in names.split():
            func = getattr(owner, name, None)
            if func is not None:
                signatures.setdefault(func, signature)  # aliases (F.relu_ is torch.relu_) keep their first entry

    relu = (("input", "inplace"), (("inplace", False),))
    hardtanh = ("input", "min_val", "max_val", "inplace")
    hardtanh_defaults = (("min_val", -1.0), ("max_val", 1.0), ("inplace", False))
    threshold = ("input", "threshold", "value", "inplace")
    add(F, "relu", _Signature(*relu, _relu, None))  # nn.ReLU
    add(F, "relu6", _Signature(*relu, _relu6, None))
    add(torch, "relu", _Signature(("input",), (), _relu, False))
    add(torch.Tensor, "relu", _Signature(("self",), (), _relu, False))
    add(torch, "relu_", _Signature(("input",), (), _relu, True))  # also F.relu_
    add(torch.Tensor, "relu_", _Signature(("self",), (), _relu, True))
    add(torch._C._nn, "relu6", _Signature(("input",), (), _relu6, False))
    add(torch._C._nn, "relu6_", _Signature(("input",), (), _relu6, True))
    add(F, "hardtanh", _Signature(hardtanh, hardtanh_defaults, _hardtanh, None))  # nn.ReLU6, nn.Hardtanh
    add(torch._C._nn, "hardtanh", _Signature(hardtanh[:3], hardtanh_defaults[:2], _hardtanh, False))
    add(torch._C._nn, "hardtanh_", _Signature(hardtanh[:3], hardtanh_defaults[:2], _hardtanh, True))  # F.hardtanh_
    add(F, "threshold", _Signature(threshold, (("inplace", False),), _threshold, None))  # nn.Threshold
    add(torch, "threshold", _Signature(threshold[:3], (), _threshold, False))
    add(torch, "threshold_", _Signature(threshold[:3], (), _threshold, True))  # F.threshold_
    add(torch, "clamp clip clamp_min", _Signature(("input", "min", "max"), (), _clamp, False))
    add(torch, "clamp_ clip_ clamp_min_", _Signature(("input", "min", "max"), (), _clamp, True))
    add(torch.Tensor, "clamp clip clamp_min", _Signature(("self", "min", "max"), (), _clamp, False))
    add(torch.Tensor, "clamp_ clip_ clamp_min_", _Signature(("self", "min", "max"), (), _clamp, True))
    return signatures


_SIGNATURES = _signatures()


class _Rectify(torch.autograd.Function):
    """Forward: the original rectifier call (in place when it was). Backward: the deconvnet or guided rule."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, compute: Callable[[], torch.Tensor], upper: float, rule: str, inplace: bool):
        ctx.rule = rule
        if rule == "guided":  # the mask is taken before an in-place call overwrites x
            active = x > 0 if math.isinf(upper) else (x > 0) & (x < upper)
            ctx.save_for_backward(active)
        out = compute()
        if inplace:
            ctx.mark_dirty(x)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        signal = grad.clamp(min=0)
        if ctx.rule == "guided":
            (active,) = ctx.saved_tensors
            signal = signal * active
        return signal, None, None, None, None


class _GuidedSmooth(torch.autograd.Function):
    """Forward: a smooth activation (GELU, SiLU). Backward: guided backprop's rule, relu(grad) times its slope at x."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor]):
        ctx.compute = compute
        ctx.save_for_backward(x)
        return compute(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            probe = x.detach().requires_grad_(True)
            (slope_times_signal,) = torch.autograd.grad(ctx.compute(probe), probe, grad.clamp(min=0))
        return slope_times_signal, None


_SMOOTH = {F.gelu, F.silu}  # nn.GELU and nn.SiLU call these


class RectifierMode(TorchFunctionMode):
    """Active while a forward pass runs; routes every rectifier call through `_Rectify` (and, for guided, smooth
    activations through `_GuidedSmooth`). `count` = rectifier calls replaced, `smooth` = smooth activations."""

    def __init__(self, rule: str):
        super().__init__()
        self.rule = rule
        self.count = 0
        self.smooth = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _hashable(func) and func in _SMOOTH and args and isinstance(args[0], torch.Tensor) and args[0].requires_grad \
                and torch.is_grad_enabled():
            self.smooth += 1  # seen by either rule: a deconvnet through smooth activations only is no deconvnet
            if self.rule == "guided":
                rest = args[1:]
                return _GuidedSmooth.apply(args[0], lambda x: func(x, *rest, **kwargs))
        signature = _SIGNATURES.get(func) if _hashable(func) else None
        matched = signature.match(args, kwargs) if signature is not None else None
        if matched is None or not matched[0].requires_grad or not torch.is_grad_enabled():
            return func(*args, **kwargs)
        tensor, upper, inplace = matched
        self.count += 1
        return _Rectify.apply(tensor, lambda: func(*args, **kwargs), upper, self.rule, inplace)


def _hashable(func: object) -> bool:
    try:
        hash(func)
    except TypeError:
        return False
    return True


@contextmanager
def rectifier_backward(method: str) -> Iterator[RectifierMode | None]:
    """Within the block, rectifiers called in a forward pass get `method`'s backward rule; nothing outlives the block.

    The graph built inside keeps the rule for its own backward (run it after the block); graphs built
    outside are untouched. Yields the mode (None for "gradient", which overrides nothing).
    """
    check_method(method)
    if method == "gradient":
        yield None
        return
    with RectifierMode(method) as mode:
        yield mode
