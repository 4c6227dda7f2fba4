"""BatchNorm folding and the cut at a layer: the same activations with fewer operations, and the model itself whenever a copy would not be exact."""

import copy
from types import SimpleNamespace

import torch
import torch.fx as fx
from torch import nn

from featurelens.capture import LOGIT, capture_activations
from featurelens.capture.inference import fold_batchnorm, forward_to
from featurelens.photos import photo_batch



def test_a_folded_real_network_gives_the_same_layer_and_logits_with_no_batchnorm_left_outside_the_kept_layer(lite0, norms_called) -> None:
    x = lite0.normalize(photo_batch(lite0.input_size)[1:2])  # the cat
    folded = fold_batchnorm(lite0.module, ["_blocks.8"], x, [LOGIT])
    assert folded is not lite0.module
    assert len(norms_called(lite0.module, x)) == 49
    assert len(norms_called(folded, x)) == 3  # the three inside the kept block, which stays whole
    with torch.no_grad():
        expected = capture_activations(lite0.module, x, ["_blocks.8", LOGIT], stop_early=False)
        found = capture_activations(folded, x, ["_blocks.8", LOGIT], stop_early=False)
    torch.testing.assert_close(found["_blocks.8"], expected["_blocks.8"], rtol=0, atol=1e-4 * float(expected["_blocks.8"].abs().max()))
    assert int(found[LOGIT].argmax()) == int(expected[LOGIT].argmax())
    assert all(p.data_ptr() not in {q.data_ptr() for q in lite0.module.parameters()} for p in folded.parameters())  # a copy


def test_a_kept_convolution_and_a_kept_norm_are_not_folded(lite0) -> None:
    x = lite0.normalize(photo_batch(lite0.input_size)[:1])
    for layer in ["_blocks.2._project_conv", "_blocks.2._bn2"]:
        folded = fold_batchnorm(lite0.module, [layer], x)
        with torch.no_grad():
            expected = capture_activations(lite0.module, x, [layer])[layer]
            found = capture_activations(folded, x, [layer])[layer]
        torch.testing.assert_close(found, expected, rtol=0, atol=1e-4 * float(expected.abs().max()))


class _Branchy(nn.Module):
    """Control flow that depends on the data: fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.norm(self.conv(x))
        return y if float(y.mean()) > 0 else -y


class _Shared(nn.Module):
    """A convolution whose output feeds its BatchNorm and something else: folding would change the other use."""

    def __init__(self):
        super().__init__()
        self.conv, self.norm, self.act = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()

    def forward(self, x):
        y = self.conv(x)
        return self.act(self.norm(y)) + y


def _with_statistics(module: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for norm in module.modules():
        if isinstance(norm, nn.BatchNorm2d):
            norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2), norm.weight.data.uniform_(0.5, 2)
    return module.eval()


def test_models_that_cannot_be_folded_exactly_are_used_as_they_are() -> None:
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    branchy = _with_statistics(_Branchy())
    assert fold_batchnorm(branchy, ["norm"], x) is branchy
    training = _Shared().train()
    assert fold_batchnorm(training, ["act"], x) is training
    shared = _with_statistics(_Shared())
    folded = fold_batchnorm(shared, ["act"], x)
    assert folded is shared  # nothing to fold: the convolution's output has two users


def test_a_model_that_runs_hooks_of_its_own_is_used_as_it_is(lite0) -> None:
    """A traced copy would not call them (a dictionary's features, `LAYER/NAME`, are read from a hook on the layer:
    tests/concepts render one through the loop, which folds)."""
    x = lite0.normalize(photo_batch(lite0.input_size)[:1])
    handle = lite0.module._blocks[3].register_forward_hook(lambda *_: None)
    try:
        assert fold_batchnorm(lite0.module, ["_blocks.8"], x) is lite0.module
    finally:
        handle.remove()
    assert fold_batchnorm(lite0.module, ["_blocks.8"], x) is not lite0.module  # no hooks: folded


def test_a_fold_that_changes_the_activations_is_caught_by_the_check(lite0, monkeypatch) -> None:
    import featurelens.capture.inference as folding

    monkeypatch.setattr(folding, "fuse_conv_bn_eval", lambda conv, norm: conv)  # a wrong fold: the norm is dropped
    x = lite0.normalize(photo_batch(lite0.input_size)[:1])
    assert fold_batchnorm(lite0.module, ["_blocks.8"], x) is lite0.module


def test_a_cut_returns_the_layer_eagerly_on_modules_of_its_own_and_layers_inside_leaf_modules_get_none(lite0, norms_called) -> None:
    x = lite0.normalize(photo_batch(lite0.input_size)[1:2])
    folded = fold_batchnorm(lite0.module, ["_blocks.8"], x)
    cut = forward_to(folded, "_blocks.8", x)
    assert isinstance(cut, fx.GraphModule)  # plain eager: no TorchScript
    assert not any(isinstance(m, torch.jit.ScriptModule) for m in cut.modules())
    assert "_blocks.9" not in dict(cut.named_modules()) and "_fc" not in dict(cut.named_modules())  # nothing after the layer
    assert len(norms_called(cut, x)) == 3  # the three inside the kept block
    with torch.no_grad():
        expected = capture_activations(lite0.module, x, ["_blocks.8"])["_blocks.8"]
        torch.testing.assert_close(cut(x), expected, rtol=0, atol=1e-4 * float(expected.abs().max()))

    def refuse(*_):
        raise AssertionError("a hook on the folded copy fired in the cut")

    handle = folded.get_submodule("_blocks.8").register_forward_hook(refuse)  # the live session keeps hooks on the copy
    with torch.no_grad():
        cut(x)
    handle.remove()
    inner = fold_batchnorm(lite0.module, ["_blocks.8._depthwise_conv.same_pad"], x)
    assert forward_to(inner, "_blocks.8._depthwise_conv.same_pad", x) is None  # inside a convolution
    assert forward_to(lite0.module, "_blocks.8", x) is None  # not an fx copy


def test_a_cut_that_differs_from_the_copy_is_caught_by_the_check(lite0, monkeypatch) -> None:
    import featurelens.capture.inference as folding

    x = lite0.normalize(photo_batch(lite0.input_size)[1:2])
    folded = fold_batchnorm(lite0.module, ["_blocks.8"], x)

    def wrong_copy(module: nn.Module) -> nn.Module:
        module = copy.deepcopy(module)
        module.get_submodule("_conv_stem").weight.data.mul_(1.1)  # a cut that computes something else
        return module

    monkeypatch.setattr(folding, "copy", SimpleNamespace(deepcopy=wrong_copy))
    assert forward_to(folded, "_blocks.8", x) is None
