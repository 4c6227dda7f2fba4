"""Attention heads as units: an attention layer `L.attn` is read as one feature per head, `L.attn:h` = head h.

A head's output at a token is the vector it adds to the token before the output projection mixes the heads
(`softmax(q·kᵀ/√d)·v`, `[head_dim]`); its unit value there is that vector's length, so an attention layer's
canonical form is `[N, heads, *positions]` like any layer, and render, examples, projections, the atlas and the
live grid treat heads as channels. Two kinds of attention module are read:

- `nn.MultiheadAttention` (torchvision's ViT): its fused kernels hide the heads, so they are computed again from
  the call's query, key and value with the module's own projections (masks added as torch does);
- modules with `num_heads`, a `qkv` and a `proj` linear (timm's ViTs, DeiT, fashion-vit): the heads are the
  input of `proj`, read by a hook before it runs.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

HeadsCallback = Callable[[nn.Module, torch.Tensor], None]  # (attention module, head norms [N, T, heads])


def is_attention(module: nn.Module) -> bool:
    """Whether `module` is an attention layer whose heads featurelens can read."""
    if isinstance(module, nn.MultiheadAttention):
        return True
    return isinstance(getattr(module, "num_heads", None), int) and isinstance(getattr(module, "proj", None), nn.Linear) \
        and isinstance(getattr(module, "qkv", None), nn.Linear)


def watch_heads(module: nn.Module, callback: HeadsCallback) -> list:
    """Hooks that call `callback(module, norms)` on every call of the attention `module`; returns their handles."""
    if isinstance(module, nn.MultiheadAttention):
        def after(mod, args, kwargs, output):
            callback(mod, _head_norms(_multihead_heads(mod, args, kwargs)))
        return [module.register_forward_hook(after, with_kwargs=True)]
    heads = module.num_heads

    def before_projection(proj, args):
        mixed = args[0]  # [N, T, heads · head_dim]
        callback(module, _head_norms(mixed.reshape(*mixed.shape[:-1], heads, mixed.shape[-1] // heads)))
    return [module.proj.register_forward_pre_hook(before_projection)]


def _head_norms(heads: torch.Tensor) -> torch.Tensor:
    """[N, T, heads, head_dim] → each head's output length at each token, [N, T, heads] (smooth at zero)."""
    return (heads.pow(2).sum(-1) + 1e-12).sqrt()


def _multihead_heads(mha: nn.MultiheadAttention, args: tuple, kwargs: dict) -> torch.Tensor:
    """The per-head outputs [N, T, heads, head_dim] of one `nn.MultiheadAttention` call, computed as the module does."""
    names = ("query", "key", "value")
    query, key, value = (args[i] if len(args) > i else kwargs[name] for i, name in enumerate(names))
    if not mha.batch_first:
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    if mha._qkv_same_embed_dim:
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3) if mha.in_proj_bias is not None else (None, None, None)
    heads, dim = mha.num_heads, mha.head_dim
    q, k, v = (F.linear(t, w, b) for t, w, b in ((query, w_q, b_q), (key, w_k, b_k), (value, w_v, b_v)))
    q, k, v = (t.reshape(t.shape[0], t.shape[1], heads, dim).transpose(1, 2) for t in (q, k, v))  # [N, heads, T, d]
    mask = kwargs.get("attn_mask", args[5] if len(args) > 5 else None)
    weights = q @ k.transpose(-2, -1) / dim ** 0.5
    if mask is not None:
        weights = weights.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else weights + mask
    return (weights.softmax(-1) @ v).transpose(1, 2)  # [N, T, heads, d]
