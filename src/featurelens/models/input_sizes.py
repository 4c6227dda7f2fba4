"""Which input sizes a model accepts, found by dry runs: a model that runs the layers a job needs at its own
size but not at another (a ViT's position embedding, torchvision's size assertion, a head sized for one input)
is fixed-size for that job, and a size it refuses is a one-line error naming the size it accepts.
"""

from __future__ import annotations

from featurelens.capture import probe
from featurelens.errors import FeaturelensError, error_reason
from featurelens.models.loaded import LoadedModel

OTHER_SIZE_STEP = 16  # the other size tried: the model's size plus this (a whole number of 4-, 8- and 16-pixel patches)


def refusal(model: LoadedModel, size: int | tuple[int, int], layers: list[str] | tuple[str, ...]) -> str | None:
    """Why `model` cannot run up to every layer of `layers` on inputs of `size` (one line), or None when it can.

    The dry run is the shared probe; a model that raises something other than the RuntimeError or ValueError the
    probe expects (torchvision's `AssertionError: Wrong image height!`) is caught here, and the answer is cached."""
    height, width = model.input_pair(size)
    key = ("refusal", id(model.module), height, width, tuple(layers))
    if key not in model.probes:
        model.probes[key] = _refusal(model, (height, width), layers)
    return model.probes[key]


def _refusal(model: LoadedModel, size: tuple[int, int], layers: list[str] | tuple[str, ...]) -> str | None:
    height, width = size
    try:
        found = probe(model, size)
    except FeaturelensError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001  (any failure of the user's forward is an answer, not a crash)
        return f"model {model.spec!r} cannot run on {height}×{width} inputs: {type(err).__name__}: {error_reason(err)}"
    return next((reason for layer in layers if (reason := found.unreachable(layer, model.spec))), None)


def is_fixed_size(model: LoadedModel, layers: list[str] | tuple[str, ...], other: int | None = None) -> bool:
    """True when `model` runs `layers` at its input size but refuses another size (`other`, default the input size
    plus OTHER_SIZE_STEP): it must be given exactly its input size."""
    side = other if other is not None else model.input_size + OTHER_SIZE_STEP
    return refusal(model, model.input_size, layers) is None and refusal(model, side, layers) is not None


def check_accepted(model: LoadedModel, size: int | tuple[int, int], layers: list[str] | tuple[str, ...], fix: str | None = None) -> None:
    """Raise a one-line error naming the accepted size when `model` refuses `size` for `layers`; `fix` says what to
    do instead (default: the `size` parameter's accepted value)."""
    reason = refusal(model, size, layers)
    if reason is None:
        return
    accepted = model.input_size
    if refusal(model, accepted, layers) is not None:
        raise FeaturelensError(reason)
    fix = fix or f"use {{parameter}} {accepted}"
    raise FeaturelensError(f"{reason}; it accepts {model.size_label(accepted)}: {fix}", parameter="size")
